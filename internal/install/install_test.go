package install_test

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/meshlite/meshlite/identity/ca"
	"github.com/meshlite/meshlite/internal/inject"
	"github.com/meshlite/meshlite/internal/inject/injecttest"
	"github.com/meshlite/meshlite/internal/install"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// testNow is within the fixture issuer's century of validity.
var testNow = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)

// fixture is testdata/identity: made once with
// `meshctl identity create --trust-domain cluster.local --anchor-lifetime 876000h --issuer-lifetime 876000h`
// (a test key, nothing else trusts it).
func fixture(t testing.TB) install.Identity {
	t.Helper()
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join("testdata", "identity", name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	return install.Identity{TrustAnchors: read(ca.AnchorCertFile), IssuerCert: read(ca.IssuerCertFile), IssuerKey: read(ca.IssuerKeyFile)}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	p := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(p, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (go test -update writes it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (go test -update to accept):\n%s", p, got)
	}
}

func TestRender(t *testing.T) {
	validate := map[string][]byte{}
	for _, c := range []struct {
		name string
		opts install.Options
	}{
		{"install", install.Options{Version: "v0.0.0-test"}},
		{"install-custom", install.Options{
			Version: "v0.0.0-test", Namespace: "mesh-system", ClusterDomain: "corp.internal", ClassicSidecar: true,
			LogLevel: "debug", ImagePullPolicy: "Always",
			IdentityImage: "registry.example.com/identity:1", DestinationImage: "registry.example.com/destination:1",
			ProxyImage: "registry.example.com/proxy:1", InitImage: "registry.example.com/init:1",
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			c.opts.Identity, c.opts.Now = fixture(t), testNow
			out, report, err := install.Render(c.opts)
			if err != nil {
				t.Fatal(err)
			}
			golden(t, c.name+".golden.yaml", out)
			if len(report) != 2 || report[0].Action != inject.Injected || report[1].Action != inject.Injected {
				t.Errorf("report: %v", report)
			}
			validate[c.name+".yaml"] = out

			// Rendering is a pure function of the options.
			again, _, err := install.Render(c.opts)
			if err != nil || !bytes.Equal(again, out) {
				t.Errorf("a second render differs (%v)", err)
			}
			// Its proxies are inject's: uninject takes them out, and only
			// them.
			back, results, err := inject.Uninject(out)
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for _, r := range results {
				if r.Action == inject.Uninjected {
					n++
				}
			}
			if n != 2 || bytes.Contains(back, []byte(inject.ProxyContainerName)) || !bytes.Contains(back, []byte("name: identity\n")) {
				t.Errorf("uninject of the install: %d uninjected\n%s", n, back)
			}
		})
	}
	t.Run("kubeconform", func(t *testing.T) {
		if len(validate) != 2 {
			t.Skip("render failed")
		}
		injecttest.Kubeconform(t, validate)
	})
}

func TestGenerateIdentity(t *testing.T) {
	now := time.Now()
	id, err := install.GenerateIdentity("example.org", now)
	if err != nil {
		t.Fatal(err)
	}
	out, _, err := install.Render(install.Options{TrustDomain: "example.org", Identity: id, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(out, []byte("--trust-domain=example.org")) || !bytes.Contains(out, bytes.TrimSpace(bytes.SplitN(id.TrustAnchors, []byte("\n"), 3)[1])) {
		t.Errorf("the output lacks the trust domain or the generated anchor")
	}
	if _, err := install.GenerateIdentity("Not A Domain", now); err == nil {
		t.Error("a bad trust domain was accepted")
	}
}

func TestValidate(t *testing.T) {
	good := fixture(t)
	other, err := install.GenerateIdentity("cluster.local", testNow)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		opts install.Options
		want string
	}{
		{"no identity", install.Options{}, "identity: the trust anchors, the issuer certificate and its key are all required"},
		{"other trust domain", install.Options{Identity: good, TrustDomain: "example.org"}, "identity:"},
		{"expired", install.Options{Identity: good, Now: time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)}, "identity:"},
		{"foreign anchors", install.Options{Identity: install.Identity{TrustAnchors: other.TrustAnchors, IssuerCert: good.IssuerCert, IssuerKey: good.IssuerKey}}, "identity:"},
		{"key of another issuer", install.Options{Identity: install.Identity{TrustAnchors: good.TrustAnchors, IssuerCert: good.IssuerCert, IssuerKey: other.IssuerKey}}, "identity:"},
		{"bad namespace", install.Options{Identity: good, Namespace: "Mesh_System"}, `namespace "Mesh_System"`},
		{"bad log level", install.Options{Identity: good, LogLevel: "loud"}, "log level"},
		{"bad pull policy", install.Options{Identity: good, ImagePullPolicy: "Sometimes"}, "image pull policy"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if c.opts.Now.IsZero() {
				c.opts.Now = testNow
			}
			_, _, err := install.Render(c.opts)
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "install: ") {
				t.Errorf("err = %v, want %q", err, c.want)
			}
		})
	}
}
