package netenv

import (
	"context"
	"errors"
	"fmt"
	"net"
	"runtime"
	"time"

	"golang.org/x/sys/unix"
)

// Do runs fn on an OS thread switched into the pod's network namespace and
// returns its error. Sockets created inside fn belong to the pod and stay
// there after Do returns; nothing else changes (files, mounts and /etc/hosts
// are the host's). fn runs on a goroutine of its own, locked to its thread:
// it must not call t.FailNow (Do reports that as an error) and its panics
// are re-raised in the caller. If the thread cannot be switched back, it is
// left locked so it dies with the goroutine instead of serving others.
func (p *Pod) Do(fn func() error) error {
	type result struct {
		err      error
		panicked bool
		panicVal any
	}
	res := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			runtime.UnlockOSThread()
			res <- result{err: fmt.Errorf("netenv: pod %s: open own netns: %w", p.Name, err)}
			return
		}
		target, err := unix.Open(p.NSPath(), unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			_ = unix.Close(orig)
			runtime.UnlockOSThread()
			res <- result{err: fmt.Errorf("netenv: pod %s: open %s: %w", p.Name, p.NSPath(), err)}
			return
		}
		if err := unix.Setns(target, unix.CLONE_NEWNET); err != nil {
			_, _ = unix.Close(orig), unix.Close(target)
			runtime.UnlockOSThread()
			res <- result{err: fmt.Errorf("netenv: pod %s: setns: %w", p.Name, err)}
			return
		}
		var r result
		normal := false
		defer func() {
			if !normal {
				if v := recover(); v != nil {
					r.panicked, r.panicVal = true, v
				} else {
					r.err = fmt.Errorf("netenv: pod %s: Do: fn called runtime.Goexit (t.FailNow?)", p.Name)
				}
			}
			restoreErr := unix.Setns(orig, unix.CLONE_NEWNET)
			_, _ = unix.Close(orig), unix.Close(target)
			if restoreErr != nil {
				// Stay locked: the thread exits with this goroutine.
				r.err = errors.Join(r.err, fmt.Errorf("netenv: pod %s: restore netns: %w", p.Name, restoreErr))
			} else {
				runtime.UnlockOSThread()
			}
			res <- r
		}()
		r.err = fn()
		normal = true
	}()
	r := <-res
	if r.panicked {
		panic(r.panicVal)
	}
	return r.err
}

// Listen listens on addr inside the pod, as net.Listen does. ":8080"
// listens on all of the pod's addresses.
func (p *Pod) Listen(network, addr string) (net.Listener, error) {
	var l net.Listener
	err := p.Do(func() error {
		var err error
		l, err = net.Listen(network, addr)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("netenv: pod %s: listen %s %s: %w", p.Name, network, addr, err)
	}
	return l, nil
}

// ListenPacket is net.ListenPacket inside the pod.
func (p *Pod) ListenPacket(network, addr string) (net.PacketConn, error) {
	var c net.PacketConn
	err := p.Do(func() error {
		var err error
		c, err = net.ListenPacket(network, addr)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("netenv: pod %s: listen %s %s: %w", p.Name, network, addr, err)
	}
	return c, nil
}

// DialContext connects from inside the pod, as net.Dialer.DialContext does.
// A host name mapped by Env.SetHosts is replaced by its address; other
// names go to the host's resolver, so prefer addresses. Addresses are
// tried one after the other (no Happy Eyeballs racing, whose goroutines
// would run outside the pod).
func (p *Pod) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	if host, port, err := net.SplitHostPort(addr); err == nil {
		if a, ok := p.env.lookupHost(host); ok {
			addr = net.JoinHostPort(a.String(), port)
		}
	}
	d := net.Dialer{FallbackDelay: -1}
	var c net.Conn
	err := p.Do(func() error {
		var err error
		c, err = d.DialContext(ctx, network, addr)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("netenv: pod %s: dial %s %s: %w", p.Name, network, addr, err)
	}
	return c, nil
}

// WaitDial dials addr from inside the pod every 20ms until a connection is
// accepted (it is closed at once) or ctx is done; use it to wait for a
// server started with Start to listen.
func (p *Pod) WaitDial(ctx context.Context, network, addr string) error {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		attempt, cancel := context.WithTimeout(ctx, time.Second)
		c, err := p.DialContext(attempt, network, addr)
		cancel()
		if err == nil {
			return c.Close()
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("netenv: pod %s: wait for %s %s: %w (last: %w)", p.Name, network, addr, ctx.Err(), err)
		case <-tick.C:
		}
	}
}
