package admin

import (
	"bufio"
	"crypto/tls"
	"net"
	"sync"
	"time"
)

// TLSListener serves plaintext and TLS on one port: each accepted
// connection whose first byte starts a TLS record is served with cfg.
// Kubelet probes and Prometheus scrape in plaintext; meshctl reaches the
// streams over mutual TLS.
type TLSListener struct {
	net.Listener
	cfg   *tls.Config
	conns chan net.Conn
	errc  chan error
	once  sync.Once
	done  chan struct{}
}

// sniffTimeout bounds waiting for a new connection's first byte.
const sniffTimeout = 10 * time.Second

// NewTLSListener wraps ln; a nil cfg serves plaintext only.
func NewTLSListener(ln net.Listener, cfg *tls.Config) *TLSListener {
	l := &TLSListener{Listener: ln, cfg: cfg, conns: make(chan net.Conn), errc: make(chan error, 1), done: make(chan struct{})}
	go l.acceptLoop()
	return l
}

func (l *TLSListener) acceptLoop() {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			l.errc <- err
			return
		}
		go l.sniff(c)
	}
}

func (l *TLSListener) sniff(c net.Conn) {
	if l.cfg == nil {
		l.hand(c)
		return
	}
	br := bufio.NewReaderSize(c, 512)
	c.SetReadDeadline(time.Now().Add(sniffTimeout)) //nolint:errcheck // best effort
	first, err := br.Peek(1)
	c.SetReadDeadline(time.Time{}) //nolint:errcheck // best effort
	if err != nil {
		c.Close()
		return
	}
	var out net.Conn = &bufferedConn{Conn: c, r: br}
	if first[0] == 0x16 {
		out = tls.Server(out, l.cfg)
	}
	l.hand(out)
}

func (l *TLSListener) hand(c net.Conn) {
	select {
	case l.conns <- c:
	case <-l.done:
		c.Close()
	}
}

// Accept returns the next connection, plaintext or TLS.
func (l *TLSListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case err := <-l.errc:
		l.errc <- err
		return nil, err
	}
}

// Close stops accepting.
func (l *TLSListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return l.Listener.Close()
}

// bufferedConn reads through the reader that sniffed the first byte.
type bufferedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *bufferedConn) Read(p []byte) (int, error) { return c.r.Read(p) }
