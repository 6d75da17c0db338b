package netenv

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"

	"golang.org/x/sys/unix"
)

// threadNetns returns the network namespace of the calling thread.
func threadNetns(t *testing.T) string {
	ns, err := os.Readlink("/proc/thread-self/ns/net")
	if err != nil {
		t.Error(err)
	}
	return ns
}

func TestDo(t *testing.T) {
	t.Parallel()
	env := NewForTest(t, Options{DisableIPv6: true})
	p, err := env.AddPod(t.Context(), "do", PodOptions{})
	if err != nil {
		t.Fatal(err)
	}
	hostNS, err := os.Readlink("/proc/self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	// /run/netns/X is a bind mount of the nsfs file "net:[inode]".
	var st unix.Stat_t
	if err := unix.Stat(p.NSPath(), &st); err != nil {
		t.Fatal(err)
	}
	podNS := fmt.Sprintf("net:[%d]", st.Ino)

	t.Run("switches and restores", func(t *testing.T) {
		var wg sync.WaitGroup
		for range 20 {
			wg.Go(func() {
				err := p.Do(func() error {
					if ns := threadNetns(t); ns != podNS {
						return fmt.Errorf("fn ran in %s, want the pod's %s", ns, podNS)
					}
					return nil
				})
				if err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		// Threads handed back to the scheduler are in the host netns.
		for range 20 {
			wg.Go(func() {
				runtime.LockOSThread()
				defer runtime.UnlockOSThread()
				if ns := threadNetns(t); ns != hostNS {
					t.Errorf("thread left in %s, want host %s", ns, hostNS)
				}
			})
		}
		wg.Wait()
	})
	t.Run("error", func(t *testing.T) {
		want := errors.New("boom")
		if err := p.Do(func() error { return want }); !errors.Is(err, want) {
			t.Errorf("Do = %v, want %v", err, want)
		}
	})
	t.Run("panic", func(t *testing.T) {
		defer func() {
			if v := recover(); v != "boom" {
				t.Errorf("recovered %v, want boom", v)
			}
		}()
		_ = p.Do(func() error { panic("boom") })
		t.Error("Do did not re-panic")
	})
	t.Run("goexit", func(t *testing.T) {
		err := p.Do(func() error { runtime.Goexit(); return nil })
		if err == nil || !strings.Contains(err.Error(), "Goexit") {
			t.Errorf("Do = %v, want a Goexit error", err)
		}
	})
	t.Run("missing netns", func(t *testing.T) {
		gone := &Pod{Name: "gone", NetNS: env.Name() + "-gone", env: env}
		if err := gone.Do(func() error { return nil }); err == nil || !strings.HasPrefix(err.Error(), "netenv: ") {
			t.Errorf("Do in a missing netns = %v", err)
		}
	})
}
