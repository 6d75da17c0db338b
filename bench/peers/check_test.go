package peers

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// TestConfigsParse asks HAProxy and nginx themselves whether the rendered
// configurations are valid (haproxy -c, nginx -t), with real certificates.
func TestConfigsParse(t *testing.T) {
	c, err := NewCerts(time.Now(), ServerName)
	if err != nil {
		t.Fatal(err)
	}
	for _, side := range []Side{Client, Server} {
		dir := t.TempDir()
		if err := c.WriteFiles(dir); err != nil {
			t.Fatal(err)
		}
		p := Params{Side: side, Threads: 2, Dir: dir, Routes: routes(side)}
		t.Run("haproxy-"+string(side), func(t *testing.T) {
			bin := lookTool(t, "haproxy", "haproxy")
			cfg, err := HAProxy(p)
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, "haproxy.cfg")
			if err := os.WriteFile(path, cfg, 0o644); err != nil {
				t.Fatal(err)
			}
			if out, err := exec.Command(bin, "-c", "-f", path).CombinedOutput(); err != nil {
				t.Fatalf("haproxy -c: %v\n%s", err, out)
			}
		})
		t.Run("nginx-"+string(side), func(t *testing.T) {
			bin := lookTool(t, "nginx", "nginx and libnginx-mod-stream")
			if _, err := os.Stat(DefaultStreamModule); err != nil {
				t.Skipf("nginx stream module missing (apt-get install libnginx-mod-stream): %v", err)
			}
			cfg, err := Nginx(p)
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, "nginx.conf")
			if err := os.WriteFile(path, cfg, 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.MkdirAll(filepath.Join(dir, "tmp"), 0o755); err != nil {
				t.Fatal(err)
			}
			if out, err := exec.Command(bin, "-t", "-q", "-p", dir, "-e", "stderr", "-c", path).CombinedOutput(); err != nil {
				t.Fatalf("nginx -t: %v\n%s", err, out)
			}
		})
	}
}

// lookTool finds a Debian-packaged tool or skips: `make bench` installs
// it, `make test` does not.
func lookTool(t *testing.T, name, pkg string) string {
	t.Helper()
	for _, dir := range []string{"", "/usr/sbin/"} {
		if p, err := exec.LookPath(dir + name); err == nil {
			return p
		}
	}
	t.Skipf("%s not installed (apt-get install %s; make bench installs it)", name, pkg)
	return ""
}
