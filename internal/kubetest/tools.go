package kubetest

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Versions of the binaries the harness runs. hack/kube/build.sh pins the
// same ones (a test checks that they agree).
const (
	// KubeVersion is the version of kube-apiserver, kube-controller-manager
	// and kubectl.
	KubeVersion = "v1.35.4"
	// EtcdVersion is the version of etcd, the one k8s.io/kubernetes
	// KubeVersion requires.
	EtcdVersion = "v3.6.5"
	// StampFile is the file in the tools directory where
	// hack/kube/build.sh records the version of every binary it built, one
	// "name version" line each.
	StampFile = "kube-tools.stamp"
)

// Tools are the paths of the control-plane binaries.
type Tools struct {
	Dir               string // the tools directory
	Etcd              string
	APIServer         string
	ControllerManager string
	Kubectl           string
}

// DefaultToolsDir returns where `make kube-tools` puts the binaries:
// $MESHLITE_TOOLS_DIR, else $TOOLS_DIR, else ~/.cache/meshlite/bin.
func DefaultToolsDir() string {
	for _, env := range []string{"MESHLITE_TOOLS_DIR", "TOOLS_DIR"} {
		if d := os.Getenv(env); d != "" {
			return d
		}
	}
	home, err := os.UserHomeDir()
	if err != nil {
		home = os.TempDir()
	}
	return filepath.Join(home, ".cache", "meshlite", "bin")
}

// FindTools returns the binaries in dir (DefaultToolsDir when empty). It
// fails with an error wrapping ErrToolsMissing when one is missing or the
// stamp file does not record the pinned version for it.
func FindTools(dir string) (Tools, error) {
	if dir == "" {
		dir = DefaultToolsDir()
	}
	t := Tools{
		Dir:               dir,
		Etcd:              filepath.Join(dir, "etcd"),
		APIServer:         filepath.Join(dir, "kube-apiserver"),
		ControllerManager: filepath.Join(dir, "kube-controller-manager"),
		Kubectl:           filepath.Join(dir, "kubectl"),
	}
	want := map[string]string{
		"etcd":                    EtcdVersion,
		"kube-apiserver":          KubeVersion,
		"kube-controller-manager": KubeVersion,
		"kubectl":                 KubeVersion,
	}
	var problems []string
	for _, name := range []string{"etcd", "kube-apiserver", "kube-controller-manager", "kubectl"} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
			problems = append(problems, name+" missing")
		}
	}
	stamped, err := readStamp(filepath.Join(dir, StampFile))
	if err != nil {
		problems = append(problems, err.Error())
	}
	for name, v := range want {
		if err == nil && stamped[name] != v {
			problems = append(problems, fmt.Sprintf("%s is %q, want %s", name, stamped[name], v))
		}
	}
	if len(problems) > 0 {
		return t, fmt.Errorf("%w: in %s: %s", ErrToolsMissing, dir, strings.Join(problems, "; "))
	}
	return t, nil
}

// readStamp parses the "name version" lines of a stamp file.
func readStamp(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("no %s", filepath.Base(path))
	}
	defer f.Close()
	m := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if name, v, ok := strings.Cut(line, " "); ok {
			m[name] = strings.TrimSpace(v)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", filepath.Base(path), err)
	}
	return m, nil
}
