package gopeer

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"time"
)

// Relay copies bytes both ways between each accepted connection and a new
// connection to its Dest, with io.Copy (which splices between TCP sockets).
// A half-close travels through.
type Relay struct {
	// Dest picks the upstream. Required.
	Dest Dest
	// DialTimeout bounds each upstream connect. Default 1s.
	DialTimeout time.Duration
}

// Serve accepts on ln until ctx ends, then closes ln and every relayed
// connection and returns nil.
func (r *Relay) Serve(ctx context.Context, ln net.Listener) error {
	timeout := r.DialTimeout
	if timeout <= 0 {
		timeout = time.Second
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			return err
		}
		wg.Go(func() { r.relay(ctx, c.(*net.TCPConn), timeout) })
	}
}

func (r *Relay) relay(ctx context.Context, c *net.TCPConn, timeout time.Duration) {
	defer c.Close()
	dst, err := r.Dest(c)
	if err != nil {
		return
	}
	d := net.Dialer{Timeout: timeout}
	nc, err := d.DialContext(ctx, "tcp", dst.String())
	if err != nil {
		return
	}
	up := nc.(*net.TCPConn)
	defer up.Close()
	stop := context.AfterFunc(ctx, func() { c.Close(); up.Close() })
	defer stop()
	var wg sync.WaitGroup
	wg.Go(func() { pipe(up, c) })
	pipe(c, up)
	wg.Wait()
}

// pipe copies src to dst, then half-closes dst.
func pipe(dst, src *net.TCPConn) {
	_, _ = io.Copy(dst, src)
	_ = dst.CloseWrite()
}
