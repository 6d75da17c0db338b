package cli

import (
	"bufio"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The sample configurations of examples/ are valid, together.
func TestValidateExamples(t *testing.T) {
	out, _, err := meshctl(t, "validate", filepath.Join("..", "examples"))
	if err != nil || out != "configuration is valid\n" {
		t.Fatalf("meshctl validate examples: %v\n%s", err, out)
	}
	// One file at a time too, with what it needs.
	out, _, err = meshctl(t, "validate", "../examples/seed-routing.yaml", "../examples/seed-services.yaml")
	if err != nil || out != "configuration is valid\n" {
		t.Fatalf("meshctl validate the seed: %v\n%s", err, out)
	}
}

// Each file of testdata/validate is refused; its first line says where:
// "# want: LINE: FIELD: MESSAGE".
func TestValidateInvalid(t *testing.T) {
	files, err := filepath.Glob("testdata/validate/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no test files: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			want := wantLine(t, f)
			out, _, err := meshctl(t, "validate", f)
			if !errors.Is(err, errInvalid) {
				t.Fatalf("err = %v, want errInvalid; output:\n%s", err, out)
			}
			if !strings.Contains(out, f+":"+want) {
				t.Fatalf("output does not have %q:\n%s", f+":"+want, out)
			}
			if !strings.Contains(out, "error") {
				t.Fatalf("no summary:\n%s", out)
			}
		})
	}
}

func wantLine(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	if !sc.Scan() || !strings.HasPrefix(sc.Text(), "# want: ") {
		t.Fatalf("%s: the first line must be \"# want: LINE: FIELD: MESSAGE\"", path)
	}
	return strings.TrimPrefix(sc.Text(), "# want: ")
}

// All invalid files at once: every problem, one per line, then the
// summary (golden).
func TestValidateOutput(t *testing.T) {
	out, _, err := meshctl(t, "validate", "testdata/validate", "../examples/bookinfo-services.yaml")
	if !errors.Is(err, errInvalid) {
		t.Fatalf("err = %v", err)
	}
	golden(t, filepath.Join("validate", "output.golden"), out)
}

func TestValidateUsage(t *testing.T) {
	if _, _, err := meshctl(t, "validate"); err == nil {
		t.Error("no paths: no error")
	}
	if _, _, err := meshctl(t, "validate", "--root-namespace", "Not_A_Namespace", "."); err == nil {
		t.Error("bad --root-namespace: no error")
	}
	if _, _, err := meshctl(t, "validate", "does-not-exist.yaml"); err == nil || errors.Is(err, errInvalid) {
		t.Errorf("missing file: err = %v", err)
	}
}

// Gateway API's own traffic-splitting samples (from the module) are
// accepted unchanged, one at a time (they are alternatives: several
// declare HTTPRoute foo-route): they attach to no Service and name
// hostnames, which mesh routing ignores, so they only warn.
func TestValidateGatewayAPISamples(t *testing.T) {
	dir, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "sigs.k8s.io/gateway-api").Output()
	if err != nil {
		t.Skipf("go list: %v (the module is not downloaded)", err)
	}
	samples, err := filepath.Glob(filepath.Join(strings.TrimSpace(string(dir)), "examples", "standard", "traffic-splitting", "*.yaml"))
	if err != nil || len(samples) == 0 {
		t.Fatalf("no samples: %v", err)
	}
	for _, s := range samples {
		out, _, err := meshctl(t, "validate", s)
		if err != nil || !strings.Contains(out, "\n0 errors") {
			t.Errorf("%s: %v\n%s", s, err, out)
		}
		if _, _, err := meshctl(t, "validate", "--strict", s); !errors.Is(err, errInvalid) {
			t.Errorf("%s with --strict: err = %v, want errInvalid (it has warnings)", s, err)
		}
	}
}
