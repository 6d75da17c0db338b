package identity_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/meshlite/meshlite/identity/app"
	"github.com/meshlite/meshlite/identity/identitytest"
	"github.com/meshlite/meshlite/internal/kubetest"
	"github.com/meshlite/meshlite/proxy/identity"
)

// TestClientKubernetes: a proxy whose token file holds a projected
// ServiceAccount token gets its SVID from an identity service that reviews
// the token with a real kube-apiserver (skipped when `make kube-tools`
// has not been run, outside CI).
func TestClientKubernetes(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	kube := kubetest.Start(ctx, t, kubetest.Options{})
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"}}
	if _, err := kube.Client().CoreV1().ServiceAccounts("default").Create(ctx, sa, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	tok, err := kube.ServiceAccountToken(ctx, "default", "web", []string{kubetest.IdentityAudience}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte(tok+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	srv := identitytest.Start(t, identitytest.Options{Configure: func(c *app.Config) {
		c.Attest = "join,kubernetes"
		c.Kubeconfig = kube.Kubeconfig()
	}})

	cfg := config(t, srv, "default", "web")
	cfg.TokenFile = tokenFile
	c, err := identity.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ch := c.Updated()
	run(t, c)
	waitUpdate(t, ch, 10*time.Second)
	if s, _ := c.GetX509SVID(); s == nil || s.ID.String() != "spiffe://example.org/ns/default/sa/web" {
		t.Fatalf("SVID %v", s)
	}

	// The same token does not get another service account's identity.
	cfg = config(t, srv, "default", "db")
	cfg.TokenFile = tokenFile
	db, err := identity.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	run(t, db)
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(srv.Logs(), `"reason":"permission_denied"`) {
		if time.Now().After(deadline) {
			t.Fatalf("no permission_denied refusal logged:\n%s", srv.Logs())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if db.Ready() {
		t.Fatal("web's token got db an SVID")
	}

	// Join tokens still work next to Kubernetes.
	joined, err := identity.New(config(t, srv, "default", "batch"))
	if err != nil {
		t.Fatal(err)
	}
	ch = joined.Updated()
	run(t, joined)
	waitUpdate(t, ch, 5*time.Second)
}
