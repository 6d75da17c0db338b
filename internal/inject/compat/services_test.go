package compat_test

import (
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	destinationapp "github.com/meshlite/meshlite/destination/app"
	"github.com/meshlite/meshlite/destination/kube"
	identityapp "github.com/meshlite/meshlite/identity/app"
	"github.com/meshlite/meshlite/internal/inject"
	"github.com/meshlite/meshlite/internal/inject/injecttest"
	"github.com/meshlite/meshlite/internal/install"
)

func TestProxyVersionAnnotationIsTheDestinationsOwn(t *testing.T) {
	if inject.AnnotationProxyVersion != kube.ProxyVersionAnnotation {
		t.Errorf("inject writes %q, meshlite-destination looks for %q", inject.AnnotationProxyVersion, kube.ProxyVersionAnnotation)
	}
}

// fixture is internal/install/testdata/identity.
func fixture(t testing.TB) install.Identity {
	t.Helper()
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join("..", "..", "install", "testdata", "identity", name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	return install.Identity{TrustAnchors: read("anchor.crt"), IssuerCert: read("issuer.crt"), IssuerKey: read("issuer.key")}
}

var testNow = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)

// TestServiceArgsParse hands the arguments install gives meshlite-identity
// and meshlite-destination to their own flag parsing and validation.
func TestServiceArgsParse(t *testing.T) {
	out, _, err := install.Render(install.Options{Identity: fixture(t), Now: testNow, Namespace: "mesh-system", TrustDomain: "cluster.local"})
	if err != nil {
		t.Fatal(err)
	}
	objs, err := injecttest.Objects(out)
	if err != nil {
		t.Fatal(err)
	}
	parsers := map[string]func([]string) error{
		"identity": func(args []string) error {
			c := identityapp.Default()
			fs := flag.NewFlagSet("meshlite-identity", flag.ContinueOnError)
			c.RegisterFlags(fs)
			if err := fs.Parse(args); err != nil {
				return err
			}
			return c.Validate()
		},
		"destination": func(args []string) error {
			c := destinationapp.Default()
			fs := flag.NewFlagSet("meshlite-destination", flag.ContinueOnError)
			c.RegisterFlags(fs)
			if err := fs.Parse(args); err != nil {
				return err
			}
			return c.Validate()
		},
	}
	n := 0
	for _, o := range objs {
		m := o.(map[string]any)
		if m["kind"] != "Deployment" {
			continue
		}
		pod := m["spec"].(map[string]any)["template"].(map[string]any)["spec"].(map[string]any)
		for _, c := range pod["containers"].([]any) {
			c := c.(map[string]any)
			parse, ok := parsers[c["name"].(string)]
			if !ok {
				continue
			}
			var args []string
			for _, a := range c["args"].([]any) {
				args = append(args, a.(string))
			}
			if err := parse(args); err != nil {
				t.Errorf("%s %v: %v", c["name"], args, err)
			}
			n++
		}
	}
	if n != 2 {
		t.Errorf("%d services checked, want 2", n)
	}
}
