package suite

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// lookPath finds a program in PATH or /usr/sbin (not in a non-root PATH on
// Debian).
func lookPath(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	p := filepath.Join("/usr/sbin", name)
	if _, err := os.Stat(p); err == nil {
		return p, nil
	}
	return "", fmt.Errorf("%s not found", name)
}

// debianPackage says which package provides a program.
var debianPackage = map[string]string{
	"ip": "iproute2", "iptables": "iptables", "setpriv": "util-linux",
	"haproxy": "haproxy", "nginx": "nginx libnginx-mod-stream", "wrk": "wrk",
	"h2load": "nghttp2-client", "iperf3": "iperf3",
}

// preflight checks root and finds every program needed; it names all that
// is missing in one error.
func preflight(progs []string, toolsDir string) (map[string]string, error) {
	var missing []string
	if os.Geteuid() != 0 {
		return nil, errors.New("meshbench needs root: it creates network namespaces and iptables rules (run it as root, e.g. sudo make bench)")
	}
	paths := map[string]string{}
	for _, name := range progs {
		if name == "fortio" {
			p := filepath.Join(toolsDir, "fortio")
			if _, err := os.Stat(p); err != nil {
				missing = append(missing, fmt.Sprintf("fortio (GOBIN=%s go install fortio.org/fortio@v1.68.2)", toolsDir))
				continue
			}
			paths[name] = p
			continue
		}
		p, err := lookPath(name)
		if err != nil {
			missing = append(missing, fmt.Sprintf("%s (apt-get install %s)", name, debianPackage[name]))
			continue
		}
		paths[name] = p
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("meshbench: missing: %s; `make bench` installs them", strings.Join(missing, ", "))
	}
	return paths, nil
}

// binaries are the bench's own programs, expected in the bin directory.
var binaries = []string{"meshlite-proxy", "loadgen", "benchbackend", "benchpeer", "meshlite-identity"}

// findBins checks that dir holds every one of names.
func findBins(dir string, names []string) (map[string]string, error) {
	out := map[string]string{}
	var missing []string
	for _, b := range names {
		p, err := filepath.Abs(filepath.Join(dir, b))
		if err != nil {
			return nil, err
		}
		if _, err := os.Stat(p); err != nil {
			missing = append(missing, b)
			continue
		}
		out[b] = p
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("meshbench: %s not in %s (make bench builds them: go build -o bin/ ./proxy/cmd/... ./bench/cmd/...)", strings.Join(missing, ", "), dir)
	}
	return out, nil
}
