package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/meshlite/meshlite/internal/inject/injecttest"
)

// meshctlIn runs meshctl with stdin.
func meshctlIn(t *testing.T, stdin []byte, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errb bytes.Buffer
	root := NewRoot(Streams{In: bytes.NewReader(stdin), Out: &out, Err: &errb})
	root.SetArgs(args)
	err = root.ExecuteContext(context.Background())
	return out.String(), errb.String(), err
}

const injectTestVersion = "--version=v0.0.0-test"

func TestInjectInputs(t *testing.T) {
	pod, err := os.ReadFile(filepath.Join("testdata", "inject", "pod.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	anchors := filepath.Join("..", "internal", "inject", "testdata", "anchor.crt")
	for _, c := range []struct {
		name  string
		stdin []byte
		args  []string
	}{
		{"stdin", pod, []string{"-"}},
		{"dir", nil, []string{"testdata/inject/app"}},
		{"files-and-stdin", pod, []string{"testdata/inject/app/base/deployment.yaml", "-", "testdata/inject/app/namespace.yaml"}},
		{"flags", nil, []string{
			"--classic-sidecar", "--trust-anchors", anchors, "--proxy-log-level=warn", "--proxy-memory-limit=128Mi",
			"--skip-outbound-ports=5432", "--opaque-ports=5432", "--proxy-uid=2200", "--image-pull-policy=Always",
			"--proxy-image=registry.example.com/proxy:1", "--init-image=registry.example.com/init:1",
			"--control-plane-namespace=mesh", "--trust-domain=example.org", "--cluster-domain=corp.internal",
			"--namespace-annotation=blog:meshlite.io/proxy-cpu-request=20m", "testdata/inject/pod.yaml",
		}},
		{"namespace-off", nil, []string{"--namespace-annotation=blog:meshlite.io/inject=disabled", "testdata/inject/app"}},
		{"default-namespace", []byte(strings.Replace(string(pod), "  namespace: blog\n", "", 1)),
			[]string{"-n", "blog", "--namespace-annotation=blog:meshlite.io/inject=disabled", "-"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			stdout, stderr, err := meshctlIn(t, c.stdin, append([]string{"inject", injectTestVersion}, c.args...)...)
			if err != nil {
				t.Fatalf("%v\n%s", err, stderr)
			}
			golden(t, "inject/"+c.name+".golden", stdout)
			golden(t, "inject/"+c.name+".report.golden", strings.ReplaceAll(stderr, string(filepath.Separator), "/"))

			// uninject takes it all back.
			back, _, err := meshctlIn(t, []byte(stdout), "uninject", "-")
			if err != nil {
				t.Fatal(err)
			}
			var in bytes.Buffer
			for _, a := range c.args {
				switch {
				case a == "-":
					in.Write(c.stdin)
					in.WriteString("\n---\n")
				case strings.HasPrefix(a, "testdata/"):
					_ = filepath.WalkDir(a, func(p string, d os.DirEntry, err error) error {
						if err == nil && !d.IsDir() && !strings.HasSuffix(p, ".md") {
							b, _ := os.ReadFile(p)
							in.Write(b)
							in.WriteString("\n---\n")
						}
						return err
					})
				}
			}
			injecttest.SameObjects(t, in.Bytes(), []byte(back))
		})
	}
}

func TestInjectErrors(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(bad, []byte("apiVersion: v1\nkind: Pod\nmetadata: {name: p, annotations: {meshlite.io/proxy-log-level: loud}}\nspec: {containers: [{name: a}]}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	empty := t.TempDir()
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"inject"}, "requires at least 1 arg"},
		{[]string{"inject", "testdata/inject/missing.yaml"}, "no such file"},
		{[]string{"inject", empty}, "no *.yaml, *.yml or *.json file"},
		{[]string{"inject", "-", "-"}, "given twice"},
		{[]string{"inject", "--namespace-annotation=nocolon", "-"}, "want NAMESPACE:KEY=VALUE"},
		{[]string{"inject", "--namespace-annotation=a:meshlite.io/inject=off", "-"}, `"off" on namespace a`},
		{[]string{"inject", "--proxy-cpu-request=lots", "-"}, "meshlite.io/proxy-cpu-request"},
		{[]string{"inject", "--trust-anchors=testdata/inject/pod.yaml", "-"}, "trust anchors"},
		{[]string{"inject", "testdata/inject/pod.yaml", bad}, bad + ": inject: document 1 (line 1): Pod p: annotation meshlite.io/proxy-log-level"},
		{[]string{"uninject"}, "requires at least 1 arg"},
	} {
		stdout, _, err := meshctlIn(t, nil, c.args...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: err = %v, want %q", c.args, err, c.want)
		}
		if stdout != "" {
			t.Errorf("%v: wrote %q to stdout despite the error", c.args, stdout)
		}
	}
}

func TestUninjectReport(t *testing.T) {
	injected, _, err := meshctlIn(t, nil, "inject", injectTestVersion, "testdata/inject/app")
	if err != nil {
		t.Fatal(err)
	}
	stdout, stderr, err := meshctlIn(t, []byte(injected), "uninject", "-", "testdata/inject/pod.yaml")
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "inject/uninject.report.golden", stderr)
	if !strings.HasSuffix(stdout, mustRead(t, "testdata/inject/pod.yaml")) {
		t.Errorf("the never injected pod did not come out byte for byte:\n%s", stdout)
	}
}

func mustRead(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
