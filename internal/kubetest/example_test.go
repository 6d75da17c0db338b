package kubetest_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/meshlite/meshlite/internal/kubetest"
)

// A test that needs a real API server starts one (or skips, when the
// binaries are not built) and gets a ServiceAccount token for the
// identity service's audience.
func ExampleStart() {
	var t testing.TB // the test's *testing.T
	ctx := context.Background()
	c := kubetest.Start(ctx, t, kubetest.Options{})
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"}}
	if _, err := c.Client().CoreV1().ServiceAccounts("default").Create(ctx, sa, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	token, err := c.ServiceAccountToken(ctx, "default", "web", []string{kubetest.IdentityAudience}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	_ = token // hand it to the code under test
}

// Code that is not a test, like the demo, launches and stops a cluster
// itself.
func ExampleLaunch() {
	c, err := kubetest.Launch(context.Background(), kubetest.Options{ControllerManager: true, LogOutput: os.Stderr})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	defer c.Stop()
	fmt.Println("KUBECONFIG=" + c.Kubeconfig())
}

// Several tests of one package share a cluster started on first use.
func ExampleShared() {
	kube := kubetest.NewShared(kubetest.Options{ControllerManager: true})
	// In the package:
	//	var kube = kubetest.NewShared(...)
	//	func TestMain(m *testing.M) { os.Exit(kube.Run(m)) }
	//	func TestX(t *testing.T) { c := kube.Get(t); ... }
	_ = kube
}
