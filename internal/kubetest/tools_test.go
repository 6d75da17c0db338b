package kubetest

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
)

// TestVersionsMatchBuildScript keeps the versions this package expects and
// the ones hack/kube/build.sh builds in step.
func TestVersionsMatchBuildScript(t *testing.T) {
	_, file, _, _ := runtime.Caller(0)
	script, err := os.ReadFile(filepath.Join(filepath.Dir(file), "..", "..", "hack", "kube", "build.sh"))
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"KUBE_VERSION": KubeVersion, "ETCD_VERSION": EtcdVersion} {
		m := regexp.MustCompile(`(?m)^` + name + `=(\S+)`).FindSubmatch(script)
		if m == nil {
			t.Errorf("build.sh sets no %s", name)
			continue
		}
		if got := string(m[1]); got != want {
			t.Errorf("build.sh %s=%s, package wants %s", name, got, want)
		}
	}
}

func TestFindTools(t *testing.T) {
	names := []string{"etcd", "kube-apiserver", "kube-controller-manager", "kubectl"}
	goodStamp := fmt.Sprintf("# comment\netcd %s\nkube-apiserver %s\nkube-controller-manager %s\nkubectl %s\n",
		EtcdVersion, KubeVersion, KubeVersion, KubeVersion)
	tests := []struct {
		name    string
		bins    []string
		stamp   string
		wantErr string // "" for success
	}{
		{"complete", names, goodStamp, ""},
		{"empty dir", nil, "", "etcd missing"},
		{"no stamp", names, "", "no " + StampFile},
		{"one missing", names[1:], goodStamp, "etcd missing"},
		{"old apiserver", names, strings.Replace(goodStamp, "kube-apiserver "+KubeVersion, "kube-apiserver v1.34.0", 1),
			`kube-apiserver is "v1.34.0", want ` + KubeVersion},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			for _, b := range tt.bins {
				if err := os.WriteFile(filepath.Join(dir, b), []byte("#!/bin/sh\n"), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			if tt.stamp != "" {
				if err := os.WriteFile(filepath.Join(dir, StampFile), []byte(tt.stamp), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			tools, err := FindTools(dir)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if tools.APIServer != filepath.Join(dir, "kube-apiserver") || tools.Kubectl != filepath.Join(dir, "kubectl") {
					t.Errorf("tools = %+v", tools)
				}
				return
			}
			if !errors.Is(err, ErrToolsMissing) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want ErrToolsMissing containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestDefaultToolsDir(t *testing.T) {
	t.Setenv("MESHLITE_TOOLS_DIR", "")
	t.Setenv("TOOLS_DIR", "")
	t.Setenv("HOME", "/home/x")
	if got := DefaultToolsDir(); got != "/home/x/.cache/meshlite/bin" {
		t.Errorf("default %q", got)
	}
	t.Setenv("TOOLS_DIR", "/tools")
	if got := DefaultToolsDir(); got != "/tools" {
		t.Errorf("with TOOLS_DIR: %q", got)
	}
	t.Setenv("MESHLITE_TOOLS_DIR", "/meshlite-tools")
	if got := DefaultToolsDir(); got != "/meshlite-tools" {
		t.Errorf("with MESHLITE_TOOLS_DIR: %q", got)
	}
}

// recorder is a testing.TB that records how failOrSkip ends a test.
type recorder struct {
	testing.TB
	skipped, failed string
}

func (r *recorder) Helper()                           {}
func (r *recorder) Skipf(format string, args ...any)  { r.skipped = fmt.Sprintf(format, args...) }
func (r *recorder) Fatalf(format string, args ...any) { r.failed = fmt.Sprintf(format, args...) }
func (r *recorder) Fatal(args ...any)                 { r.failed = fmt.Sprint(args...) }

func TestFailOrSkip(t *testing.T) {
	missing := fmt.Errorf("%w: in /x: kube-apiserver missing", ErrToolsMissing)
	tests := []struct {
		name        string
		ci          string
		err         error
		wantSkip    bool
		wantMessage string
	}{
		{"missing tools outside CI", "", missing, true, "make kube-tools"},
		{"missing tools in CI", "true", missing, false, "make kube-tools"},
		{"other error outside CI", "", errors.New("kubetest: start etcd: boom"), false, "boom"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("CI", tt.ci)
			r := &recorder{}
			failOrSkip(r, tt.err)
			got := r.failed
			if tt.wantSkip {
				got = r.skipped
			}
			if got == "" || !strings.Contains(got, tt.wantMessage) {
				t.Errorf("skipped %q, failed %q; want %s with %q", r.skipped, r.failed,
					map[bool]string{true: "a skip", false: "a failure"}[tt.wantSkip], tt.wantMessage)
			}
		})
	}
}

func TestSharedWithoutTools(t *testing.T) {
	t.Setenv("CI", "")
	s := NewShared(Options{ToolsDir: t.TempDir()})
	for range 2 { // the failed start is remembered, not retried
		r := &recorder{}
		if c := s.Get(r); c != nil {
			t.Fatalf("Get returned a cluster without binaries")
		}
		if !strings.Contains(r.skipped, "make kube-tools") {
			t.Errorf("skipped %q, failed %q; want a skip naming make kube-tools", r.skipped, r.failed)
		}
	}
	if err := s.Stop(); err != nil {
		t.Errorf("Stop: %v", err)
	}
}
