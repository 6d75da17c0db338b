// Package relay copies bytes both ways between two connections, as opaque
// TCP, propagating half-close.
//
// Between two *net.TCPConn the copy goes through (*net.TCPConn).ReadFrom,
// which on Linux moves the bytes with splice(2) without copying them through
// user space; Relay therefore never wraps TCP connections. Other connections
// (TLS, buffered prefixes) copy through pooled 32 KiB buffers.
package relay

import (
	"errors"
	"io"
	"net"
	"sync"
)

// bufPool holds copy buffers for connections that cannot splice.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// closeWriter is a connection that can half-close: *net.TCPConn,
// *tls.Conn, *net.UnixConn.
type closeWriter interface{ CloseWrite() error }

// Stats counts the bytes moved in each direction.
type Stats struct {
	// AToB is how many bytes were read from a and written to b.
	AToB int64
	// BToA is how many bytes were read from b and written to a.
	BToA int64
}

// Conn is what Relay needs of each side: a net.Conn, or the body of an
// upgraded HTTP response.
type Conn = io.ReadWriteCloser

// Relay copies a→b and b→a until both directions have ended. When one side
// finishes sending (EOF), the other side's write half is closed, so a
// half-close travels through. When a copy fails, both connections are
// closed so the other direction ends too. Relay closes both connections
// before it returns and reports the first error other than a normal end.
func Relay(a, b Conn) (Stats, error) {
	var (
		st   Stats
		wg   sync.WaitGroup
		errA error
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		st.BToA, errA = pipe(a, b)
	}()
	n, errB := pipe(b, a)
	st.AToB = n
	wg.Wait()
	a.Close()
	b.Close()
	return st, errors.Join(benign(errB), benign(errA))
}

// pipe copies src to dst, then half-closes dst. On a failed copy it closes
// both connections so the opposite pipe does not wait forever.
func pipe(dst, src Conn) (int64, error) {
	n, err := copyConn(dst, src)
	if err != nil {
		dst.Close()
		src.Close()
		return n, err
	}
	if cw, ok := dst.(closeWriter); ok {
		if err := cw.CloseWrite(); err != nil {
			return n, nil // the peer is gone; the other pipe sees it
		}
	} else {
		dst.Close()
	}
	return n, nil
}

func copyConn(dst, src Conn) (int64, error) {
	if _, ok := dst.(*net.TCPConn); ok {
		if _, ok := src.(*net.TCPConn); ok {
			return io.Copy(dst, src) // splice(2)
		}
	}
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	return io.CopyBuffer(onlyWriter{dst}, onlyReader{src}, *bp)
}

// onlyReader and onlyWriter hide ReadFrom/WriteTo so io.CopyBuffer uses the
// pooled buffer instead of allocating its own.
type onlyReader struct{ io.Reader }
type onlyWriter struct{ io.Writer }

// benign drops the errors that are how a relay normally ends: the other
// direction closed the connections after its own failure or end.
func benign(err error) error {
	if err == nil || errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}
