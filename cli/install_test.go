package cli

import (
	"bytes"
	"context"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/meshlite/meshlite/internal/inject/injecttest"
	"github.com/meshlite/meshlite/internal/kubetest"
)

// installFixture is a trust domain (cluster.local) made once with meshctl
// identity create, valid for a century: a test key nothing else trusts.
var installFixture = filepath.Join("..", "internal", "install", "testdata", "identity")

func TestInstall(t *testing.T) {
	stdout, stderr, err := meshctl(t, "install", injectTestVersion, "--identity-dir", installFixture)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "install/install.golden", stdout)
	golden(t, "install/install.report.golden", strings.ReplaceAll(stderr, installFixture, "FIXTURE"))

	files := filepath.Join(installFixture, "")
	same, _, err := meshctl(t, "install", injectTestVersion, "--trust-anchors", filepath.Join(files, "anchor.crt"),
		"--issuer-cert", filepath.Join(files, "issuer.crt"), "--issuer-key", filepath.Join(files, "issuer.key"))
	if err != nil || same != stdout {
		t.Errorf("the three file flags give another output than --identity-dir (%v)", err)
	}

	generated, stderr, err := meshctl(t, "install", injectTestVersion, "--trust-domain", "example.org", "--namespace", "mesh-system")
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`generated a trust anchor \(until \d{4}-\d\d-\d\d\) and an issuer`).MatchString(stderr) {
		t.Errorf("stderr: %s", stderr)
	}
	injecttest.Kubeconform(t, map[string][]byte{"install.yaml": []byte(stdout), "generated.yaml": []byte(generated)})

	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--identity-dir", "x", "--issuer-key", "y"}, "exclude each other"},
		{[]string{"--trust-anchors", "x"}, "go together"},
		{[]string{"--identity-dir", t.TempDir()}, "identity: open"},
		{[]string{"--identity-dir", installFixture, "--trust-domain", "example.org"}, "install: identity:"},
		{[]string{"--identity-dir", installFixture, "--log-level", "loud"}, "log level"},
		{[]string{"extra"}, "unknown command"},
	} {
		stdout, _, err := meshctl(t, append([]string{"install"}, c.args...)...)
		if err == nil || !strings.Contains(err.Error(), c.want) || stdout != "" {
			t.Errorf("install %v: err = %v, want %q (stdout %d bytes)", c.args, err, c.want, len(stdout))
		}
	}
}

// TestKubeDryRun applies inject's and install's output to a real
// kube-apiserver (v1.35, native sidecars GA) with a server-side dry run:
// the API server's own validation, defaulting and admission, with strict
// field validation. The namespaces are created first; nothing else is.
func TestKubeDryRun(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	corpus := filepath.Join("..", "internal", "inject", "testdata", "corpus")
	anchors := filepath.Join("..", "internal", "inject", "testdata", "anchor.crt")
	streams := map[string][]byte{}
	for name, args := range map[string][]string{
		"inject":          {"inject", injectTestVersion, corpus, "testdata/inject/app", "testdata/inject/pod.yaml"},
		"inject-classic":  {"inject", injectTestVersion, "--classic-sidecar", "--trust-anchors", anchors, corpus},
		"install":         {"install", injectTestVersion, "--identity-dir", installFixture},
		"install-classic": {"install", injectTestVersion, "--classic-sidecar", "--namespace", "mesh-system"},
	} {
		out, stderr, err := meshctl(t, args...)
		if err != nil {
			t.Fatalf("meshctl %v: %v\n%s", args, err, stderr)
		}
		streams[name] = []byte(out)
	}

	c := kubetest.Start(ctx, t, kubetest.Options{})
	var all [][]byte
	for _, s := range streams {
		all = append(all, s)
	}
	namespaces, err := injecttest.Namespaces(all...)
	if err != nil {
		t.Fatal(err)
	}
	for _, ns := range namespaces {
		if out, err := c.Kubectl(ctx, nil, "create", "namespace", ns); err != nil {
			t.Fatalf("create namespace %s: %v\n%s", ns, err, out)
		}
	}
	// The applies run in parallel; the group returns when all are done.
	t.Run("apply", func(t *testing.T) {
		for _, name := range []string{"inject", "inject-classic", "install", "install-classic"} {
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				out, err := c.Kubectl(ctx, bytes.NewReader(streams[name]), "apply", "--dry-run=server", "--validate=strict", "-f", "-")
				if err != nil {
					t.Fatalf("kubectl apply --dry-run=server: %v\n%s", err, out)
				}
				n := strings.Count(string(out), "(server dry run)")
				if n < 10 {
					t.Errorf("only %d objects applied:\n%s", n, out)
				}
				t.Logf("%d objects accepted", n)
			})
		}
	})
}
