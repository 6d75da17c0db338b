package loadgen

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"sync"
	"time"
)

// defaultDialTimeout bounds each dial when a config leaves DialTimeout zero.
const defaultDialTimeout = 5 * time.Second

// pastDeadline is a deadline in the past: setting it fails pending I/O at once.
var pastDeadline = time.Unix(1, 0)

// dialer dials one address with a timeout.
type dialer struct {
	addr string
	nd   net.Dialer
}

func newDialer(addr string, timeout time.Duration) *dialer {
	if timeout <= 0 {
		timeout = defaultDialTimeout
	}
	return &dialer{addr: addr, nd: net.Dialer{Timeout: timeout}}
}

func (d *dialer) dial(ctx context.Context) (net.Conn, error) {
	c, err := d.nd.DialContext(ctx, "tcp", d.addr)
	if err != nil {
		return nil, fmt.Errorf("loadgen: dial %s: %w", d.addr, err)
	}
	return c, nil
}

// persistentConn is one long-lived connection that redials lazily after a
// failure (so the reconnect counts inside that request's latency). Its mutex
// keeps Do calls on one connection sequential.
type persistentConn struct {
	mu sync.Mutex
	d  *dialer
	nc net.Conn
	br *bufio.Reader

	// done is the Done channel of the context the connection is armed for:
	// when it closes, stop's callback fails pending I/O via a past deadline.
	done <-chan struct{}
	stop func() bool
}

// open dials if there is no live connection and arms it for ctx, whose
// cancellation and deadline then interrupt reads and writes. Arming is cached
// per context, so the steady state costs no allocation.
func (p *persistentConn) open(ctx context.Context) error {
	if p.nc == nil {
		nc, err := p.d.dial(ctx)
		if err != nil {
			return err
		}
		p.nc = nc
		if p.br == nil {
			p.br = bufio.NewReaderSize(nc, 16<<10)
		} else {
			p.br.Reset(nc)
		}
		p.done = nil
	}
	if done := ctx.Done(); done != p.done || p.stop == nil {
		p.disarm()
		p.done = done
		nc := p.nc
		deadline, _ := ctx.Deadline() // zero when none: no deadline
		if err := nc.SetDeadline(deadline); err != nil {
			return fmt.Errorf("loadgen: set deadline: %w", err)
		}
		p.stop = context.AfterFunc(ctx, func() { _ = nc.SetDeadline(pastDeadline) })
	}
	return nil
}

func (p *persistentConn) disarm() {
	if p.stop != nil {
		p.stop()
		p.stop = nil
	}
}

// drop closes the connection after an error so the next request redials.
func (p *persistentConn) drop() {
	p.disarm()
	if p.nc != nil {
		_ = p.nc.Close()
		p.nc = nil
	}
}

// close closes the connection for good.
func (p *persistentConn) close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.disarm()
	if p.nc == nil {
		return nil
	}
	err := p.nc.Close()
	p.nc = nil
	return err
}

// openAll dials every connection up front, closing them all on failure.
func openAll(ctx context.Context, conns []*persistentConn) error {
	for i, p := range conns {
		nc, err := p.d.dial(ctx)
		if err != nil {
			for _, q := range conns[:i] {
				_ = q.close()
			}
			return err
		}
		p.nc = nc
		p.br = bufio.NewReaderSize(nc, 16<<10)
	}
	return nil
}

// closeAll closes every connection and returns the first error.
func closeAll(conns []*persistentConn) error {
	var first error
	for _, p := range conns {
		if err := p.close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}
