package attest_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/meshlite/meshlite/identity/attest"
	"github.com/meshlite/meshlite/internal/kubetest"
)

// TestKubernetes reviews real projected ServiceAccount tokens with a real
// kube-apiserver (skipped when `make kube-tools` has not been run, outside
// CI).
func TestKubernetes(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	c := kubetest.Start(ctx, t, kubetest.Options{APIAudiences: []string{"other.example"}})
	for _, name := range []string{"web", "gone"} {
		sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"}}
		if _, err := c.Client().CoreV1().ServiceAccounts("default").Create(ctx, sa, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	token := func(sa string, aud ...string) string {
		t.Helper()
		tok, err := c.ServiceAccountToken(ctx, "default", sa, aud, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	k, err := attest.NewKubernetes(c.RESTConfig(), td, "")
	if err != nil {
		t.Fatal(err)
	}
	webTok := token("web", kubetest.IdentityAudience)
	goneTok := token("gone", kubetest.IdentityAudience)
	if err := c.Client().CoreV1().ServiceAccounts("default").Delete(ctx, "gone", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(webTok, ".")

	joinKey := key(t)
	for _, tc := range []struct {
		name, token string
		want        error // nil: proves web
		msg         string
	}{
		{"projected token", webTok, nil, ""},
		{"token with both audiences", token("web", "other.example", kubetest.IdentityAudience), nil, ""},
		{"token for another audience", token("web", "other.example"), attest.ErrNotRecognized, "does not include"},
		{"ServiceAccount deleted", goneTok, attest.ErrUnauthenticated, "kubernetes token review"},
		{"signature of another token", parts[0] + "." + parts[1] + "." + strings.Split(goneTok, ".")[2], attest.ErrUnauthenticated, "kubernetes token review"},
		{"join token", mint(t, joinKey, web, time.Hour, time.Now()), attest.ErrNotRecognized, "audience"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id, err := k.Attest(ctx, tc.token)
			if tc.want == nil {
				if err != nil || id != web {
					t.Fatalf("got %v, %v; want %v", id, err, web)
				}
				return
			}
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("got %v; want %v containing %q", err, tc.want, tc.msg)
			}
		})
	}

	t.Run("API server unreachable", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		cfg := c.RESTConfig()
		cfg.Host = "https://" + addr
		cfg.Timeout = 2 * time.Second
		down, err := attest.NewKubernetes(cfg, td, "")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := down.Attest(ctx, webTok); !errors.Is(err, attest.ErrUnavailable) {
			t.Fatalf("got %v, want ErrUnavailable", err)
		}
	})
}
