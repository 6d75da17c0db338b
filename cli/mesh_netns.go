package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/meshlite/meshlite/internal/healthcheck"
)

// netnsDir is where `ip netns` keeps named network namespaces.
const netnsDir = "/run/netns"

// initVerifyMismatch is meshlite-init --verify's exit code for rules that
// differ from the plan.
const initVerifyMismatch = 5

// ruleVerifier runs `meshlite-init --verify` in a proxy's network
// namespace, found on this machine by the proxy's address.
type ruleVerifier struct {
	bin  string   // meshlite-init
	args []string // extra flags for it
}

// findInitBin is --init-bin, else meshlite-init next to meshctl, else on
// PATH.
func findInitBin(flag string) (string, error) {
	if flag != "" {
		return flag, nil
	}
	if exe, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(exe), "meshlite-init")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	p, err := exec.LookPath("meshlite-init")
	if err != nil {
		return "", errors.New("meshlite-init not found next to meshctl nor on PATH (give --init-bin)")
	}
	return p, nil
}

// verify checks the rules of p's network namespace.
func (v ruleVerifier) verify(ctx context.Context, p healthcheck.Proxy) error {
	host, _, err := net.SplitHostPort(p.Admin)
	if err != nil {
		return err
	}
	addr, err := netip.ParseAddr(host)
	if err != nil {
		return healthcheck.Warn(fmt.Errorf("not checked: %q is not an IP address", host))
	}
	ns, err := findNetns(addr)
	if err != nil {
		return healthcheck.Warn(fmt.Errorf("not checked: %w", err))
	}
	var out []byte
	err = inNetns(ns, func() error {
		var err error
		out, err = exec.CommandContext(ctx, v.bin, append([]string{"--verify"}, v.args...)...).CombinedOutput()
		return err
	})
	var exit *exec.ExitError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &exit) && exit.ExitCode() == initVerifyMismatch:
		return fmt.Errorf("rules differ from the plan (meshlite-init --verify in %s):\n%s", nsName(ns), strings.TrimSpace(string(out)))
	}
	return fmt.Errorf("meshlite-init --verify in %s: %w: %s", nsName(ns), err, strings.TrimSpace(string(out)))
}

func nsName(path string) string {
	if path == "" {
		return "this network namespace"
	}
	return "network namespace " + filepath.Base(path)
}

// findNetns returns the named network namespace (under /run/netns) that
// has addr on an interface; "" for this process's own namespace (a proxy
// on loopback or on this host).
func findNetns(addr netip.Addr) (string, error) {
	addr = addr.Unmap()
	if addr.IsLoopback() || hasAddr(addr) {
		return "", nil
	}
	entries, err := os.ReadDir(netnsDir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return "", err
	}
	for _, e := range entries {
		path := filepath.Join(netnsDir, e.Name())
		found := false
		if err := inNetns(path, func() error { found = hasAddr(addr); return nil }); err != nil {
			continue
		}
		if found {
			return path, nil
		}
	}
	return "", fmt.Errorf("no network namespace of this machine has %s (the proxy runs elsewhere)", addr)
}

// hasAddr reports whether an interface of the current namespace has addr.
func hasAddr(addr netip.Addr) bool {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return false
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok {
			if ip, ok := netip.AddrFromSlice(n.IP); ok && ip.Unmap() == addr {
				return true
			}
		}
	}
	return false
}

// inNetns runs fn on a locked thread switched into the network namespace
// at path ("" runs it as it is); processes fn starts run there too. The
// thread goes back to the scheduler only if it could be switched back.
func inNetns(path string, fn func() error) error {
	if path == "" {
		return fn()
	}
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		self, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			errc <- err
			return
		}
		defer self.Close()
		target, err := os.Open(path)
		if err != nil {
			errc <- err
			return
		}
		defer target.Close()
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("entering %s (needs root): %w", path, err)
			return
		}
		err = fn()
		if unix.Setns(int(self.Fd()), unix.CLONE_NEWNET) == nil {
			runtime.UnlockOSThread()
		}
		errc <- err
	}()
	return <-errc
}
