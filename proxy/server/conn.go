package server

import (
	"net"
	"sync/atomic"
)

// countedConn replays the bytes detection already read, then reads from the
// connection, and counts the bytes in both directions for the TCP metrics.
type countedConn struct {
	net.Conn
	prefix  []byte
	read    atomic.Int64
	written atomic.Int64
}

func (c *countedConn) Read(p []byte) (int, error) {
	if len(c.prefix) > 0 {
		n := copy(p, c.prefix)
		c.prefix = c.prefix[n:]
		c.read.Add(int64(n))
		return n, nil
	}
	n, err := c.Conn.Read(p)
	c.read.Add(int64(n))
	return n, err
}

func (c *countedConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.written.Add(int64(n))
	return n, err
}

// CloseWrite half-closes the underlying connection where it can.
func (c *countedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return c.Conn.Close()
}
