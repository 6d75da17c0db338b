package http1

import (
	"context"
	"errors"
	"net"
	"sync"
	"time"
)

// aLongTimeAgo is a read deadline in the past: it makes a pending Read
// return at once.
var aLongTimeAgo = time.Unix(1, 0)

var errConcurrentRead = errors.New("http1: read during background read")

// connReader sits between the connection and its bufio.Reader. Once a
// request's body is fully read it can watch the connection in the
// background, the way net/http does: a goroutine blocks in a one-byte Read.
// A byte that arrives is kept and handed out by the next Read (it belongs to
// the next pipelined request); EOF or an error means the client is gone and
// cancels the request's context.
type connReader struct {
	nc net.Conn

	mu       sync.Mutex
	cond     sync.Cond // signalled when the background read ends
	watching bool      // a background read is in flight
	aborted  bool      // abort asked the background read to stop
	hasByte  bool
	b        [1]byte
	err      error              // sticky error seen by the background read
	cancel   context.CancelFunc // cancels the current request's context
}

func (cr *connReader) init(nc net.Conn) {
	cr.nc = nc
	cr.cond.L = &cr.mu
	cr.hasByte, cr.err, cr.cancel, cr.watching, cr.aborted = false, nil, nil, false, false
}

// Read hands out the byte kept by the background read first, then reads
// from the connection. It must not be called while a watch is running.
func (cr *connReader) Read(p []byte) (int, error) {
	cr.mu.Lock()
	if cr.watching {
		cr.mu.Unlock()
		return 0, errConcurrentRead
	}
	if cr.hasByte && len(p) > 0 {
		p[0] = cr.b[0]
		cr.hasByte = false
		cr.mu.Unlock()
		return 1, nil
	}
	if cr.err != nil {
		err := cr.err
		cr.mu.Unlock()
		return 0, err
	}
	cr.mu.Unlock()
	return cr.nc.Read(p)
}

// setCancel sets the function a detected disconnect calls.
func (cr *connReader) setCancel(cancel context.CancelFunc) {
	cr.mu.Lock()
	cr.cancel = cancel
	cr.mu.Unlock()
}

// gone reports whether the background read found the connection closed.
func (cr *connReader) gone() bool {
	cr.mu.Lock()
	defer cr.mu.Unlock()
	return cr.err != nil
}

// startWatch starts the background read unless one runs already or its
// result (a byte or an error) is still pending.
func (cr *connReader) startWatch() {
	cr.mu.Lock()
	defer cr.mu.Unlock()
	if cr.watching || cr.hasByte || cr.err != nil {
		return
	}
	cr.watching, cr.aborted = true, false
	go cr.backgroundRead()
}

func (cr *connReader) backgroundRead() {
	n, err := cr.nc.Read(cr.b[:])
	cr.mu.Lock()
	if n == 1 {
		cr.hasByte = true
	}
	var ne net.Error
	switch {
	case err == nil:
	case cr.aborted && errors.As(err, &ne) && ne.Timeout():
		// abortWatch stopped us; nothing happened on the connection.
	default:
		cr.err = err
		if cr.cancel != nil {
			cr.cancel()
		}
	}
	cr.watching = false
	cr.cond.Broadcast()
	cr.mu.Unlock()
}

// abortWatch stops a running background read and waits until it has
// returned, then clears the read deadline.
func (cr *connReader) abortWatch() {
	cr.mu.Lock()
	if !cr.watching {
		cr.mu.Unlock()
		return
	}
	cr.aborted = true
	_ = cr.nc.SetReadDeadline(aLongTimeAgo)
	for cr.watching {
		cr.cond.Wait()
	}
	cr.mu.Unlock()
	_ = cr.nc.SetReadDeadline(time.Time{})
}
