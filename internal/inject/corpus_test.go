package inject_test

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/meshlite/meshlite/internal/inject"
	"github.com/meshlite/meshlite/internal/inject/injecttest"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// testVersion keeps the golden files independent of the build.
const testVersion = "v0.0.0-test"

// testAnchors is a trust anchor for the embedded-anchors variant
// (made with meshctl identity create, valid for a century).
var testAnchors = func() []byte {
	b, err := os.ReadFile(filepath.Join("testdata", "anchor.crt"))
	if err != nil {
		panic(err)
	}
	return b
}()

// variants are the option sets the corpus is injected with; each has its
// own golden files.
var variants = []struct {
	name string
	opts inject.Options
}{
	{"", inject.Options{Version: testVersion}},
	{"classic", inject.Options{
		Version: testVersion, ClassicSidecar: true, TrustAnchorsPEM: testAnchors,
		ProxyImage: "registry.example.com/meshlite/proxy:canary", InitImage: "registry.example.com/meshlite/init:canary",
		ImagePullPolicy: "Always", TrustDomain: "example.org", ControlPlaneNamespace: "mesh-system",
	}},
}

// corpus returns the files of testdata/corpus (name → content).
func corpus(t *testing.T) map[string][]byte {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join("testdata", "corpus"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join("testdata", "corpus", e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = b
	}
	if len(out) < 10 {
		t.Fatalf("corpus has %d files", len(out))
	}
	return out
}

// golden compares got with testdata/golden/name, or writes it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	p := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
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
		t.Errorf("%s differs (go test -update to accept):\n--- got\n%s", p, got)
	}
}

func report(results []inject.Result) []byte {
	var b strings.Builder
	for _, r := range results {
		b.WriteString(r.String())
		b.WriteByte('\n')
	}
	return []byte(b.String())
}

// goldenName is "shop.yaml" → "shop.classic.injected.yaml".
func goldenName(file, variant, what string) string {
	ext := filepath.Ext(file)
	base := strings.TrimSuffix(file, ext)
	if variant != "" {
		base += "." + variant
	}
	if what == "report" {
		return base + "." + what + ".txt"
	}
	return base + "." + what + ext
}

// TestCorpus injects every file of the corpus with every variant and
// checks: the golden output and report; uninject(inject(x)) holds the same
// objects as x; inject(inject(x)) is inject(x) byte for byte; documents
// inject skips come out byte for byte; uninject of the original changes
// nothing. The outputs are then validated with kubeconform.
func TestCorpus(t *testing.T) {
	files := corpus(t)
	validate := map[string][]byte{}
	for name, input := range files {
		validate["corpus/"+name] = input
		for _, v := range variants {
			t.Run(strings.TrimSuffix(name+"/"+v.name, "/"), func(t *testing.T) {
				out, results, err := inject.Transform(input, v.opts)
				if err != nil {
					t.Fatal(err)
				}
				golden(t, goldenName(name, v.name, "injected"), out)
				golden(t, goldenName(name, v.name, "report"), report(results))
				validate[v.name+"/"+name] = out

				back, uresults, err := inject.Uninject(out)
				if err != nil {
					t.Fatal(err)
				}
				injecttest.SameObjects(t, input, back)
				if v.name == "" {
					golden(t, goldenName(name, "", "uninjected"), back)
				}
				checkUninjectReport(t, results, uresults)

				again, results2, err := inject.Transform(out, v.opts)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(again, out) {
					t.Errorf("injecting twice differs from injecting once:\n%s", again)
				}
				for i, r := range results2 {
					if r.Action == inject.Injected {
						t.Errorf("second pass injected %s", r)
					}
					if results[i].Action == inject.Injected && r.Reason != inject.ReasonAlreadyInjected {
						t.Errorf("second pass: %s, want %q", r, inject.ReasonAlreadyInjected)
					}
				}

				same, _, err := inject.Uninject(input)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(same, input) {
					t.Errorf("uninject changed an input that was never injected")
				}
			})
		}
	}
	t.Run("kubeconform", func(t *testing.T) {
		if len(validate) < len(files)*(len(variants)+1) {
			t.Skip("some corpus subtests failed before writing their output")
		}
		injecttest.Kubeconform(t, validate)
	})
}

// checkUninjectReport: what was injected is uninjected, the rest reported
// alike.
func checkUninjectReport(t *testing.T, injected, uninjected []inject.Result) {
	t.Helper()
	if len(injected) != len(uninjected) {
		t.Fatalf("inject reported %d objects, uninject %d", len(injected), len(uninjected))
	}
	for i, r := range injected {
		u := uninjected[i]
		switch {
		case r.Action == inject.Injected && u.Action != inject.Uninjected:
			t.Errorf("uninject: %s, want uninjected", u)
		case r.Action == inject.Skipped && r.Reason == inject.ReasonUnsupportedKind && u.Reason != r.Reason:
			t.Errorf("uninject: %s, want %s", u, r.Reason)
		case r.Action == inject.Skipped && r.Reason != inject.ReasonUnsupportedKind && u.Action != inject.Unchanged:
			t.Errorf("uninject: %s, want unchanged", u)
		}
	}
}

// TestSkippedDocumentsKeepTheirBytes: every document inject does not
// change is written back exactly, and the others keep everything but
// formatting.
func TestSkippedDocumentsKeepTheirBytes(t *testing.T) {
	in := []byte("# head\n" +
		"apiVersion: v1\nkind: Service\nmetadata:   {name: a}   # odd spacing\nspec:\n    ports: [ {port: 80} ]\n" +
		"--- # separator comment\n" +
		"apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\nspec: {replicas: 'x'}\n" +
		"---\r\n" +
		"apiVersion: v1\r\nkind: ConfigMap\r\nmetadata:\r\n  name: crlf\r\n" +
		"---\n" +
		"replicaCount: 3 # a Helm values file: no kind\n" +
		"---\n" +
		"apiVersion: v1\nkind: Pod\nmetadata:\n  name: off\n  annotations: {meshlite.io/inject: disabled}\nspec:\n  containers: [{name: a, image: b}]\n" +
		"---\n\n# trailing comment, no newline at the end")
	out, results, err := inject.Transform(in, inject.Options{Version: testVersion})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out, in) {
		t.Errorf("output differs from the input:\n%q\n%q", out, in)
	}
	want := []string{
		"Service a: skipped: unsupported kind",
		"Widget w: skipped: unsupported kind",
		"ConfigMap crlf: skipped: unsupported kind",
		"(no kind): skipped: not a Kubernetes object (no kind)",
		"Pod off: skipped: disabled by annotation meshlite.io/inject=disabled on the Pod",
	}
	if got := strings.Split(strings.TrimSpace(string(report(results))), "\n"); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("report:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
