package loadgen

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"time"
)

// TCPConfig configures an opaque TCP ping-pong target.
type TCPConfig struct {
	// Addr is the echo server's host:port. Required.
	Addr string
	// Conns is the number of connections. Default 1.
	Conns int
	// Size is the number of bytes written and expected back per request.
	// Default 64.
	Size int
	// DialTimeout bounds each dial. Default 5s.
	DialTimeout time.Duration
}

// TCP writes Size bytes and reads Size bytes back per request, checking that
// they are the same (ErrMismatch otherwise). It measures a proxy's opaque
// TCP path. After an error the connection is closed and redialed.
type TCP struct {
	cfg     TCPConfig
	payload []byte
	bufs    [][]byte
	conns   []*persistentConn
}

var _ Target = (*TCP)(nil)

// NewTCP opens cfg.Conns connections to cfg.Addr.
func NewTCP(ctx context.Context, cfg TCPConfig) (*TCP, error) {
	cfg.Conns = max(cfg.Conns, 1)
	if cfg.Size <= 0 {
		cfg.Size = 64
	}
	if cfg.Addr == "" {
		return nil, fmt.Errorf("%w: tcp: empty address", ErrConfig)
	}
	t := &TCP{cfg: cfg, payload: make([]byte, cfg.Size), bufs: make([][]byte, cfg.Conns),
		conns: make([]*persistentConn, cfg.Conns)}
	for i := range t.payload {
		t.payload[i] = byte('a' + i%26)
	}
	d := newDialer(cfg.Addr, cfg.DialTimeout)
	for i := range t.conns {
		t.conns[i] = &persistentConn{d: d}
		t.bufs[i] = make([]byte, cfg.Size)
	}
	if err := openAll(ctx, t.conns); err != nil {
		return nil, fmt.Errorf("loadgen: tcp: %w", err)
	}
	return t, nil
}

// String describes the target.
func (t *TCP) String() string { return fmt.Sprintf("tcp %s (%d bytes)", t.cfg.Addr, t.cfg.Size) }

// Capacity returns (Conns, 1).
func (t *TCP) Capacity() (conns, streams int) { return t.cfg.Conns, 1 }

// Do writes the payload on connection conn and reads the echo.
func (t *TCP) Do(ctx context.Context, conn int) error {
	p := t.conns[conn]
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.open(ctx); err != nil {
		return fmt.Errorf("loadgen: tcp: %w", err)
	}
	buf := t.bufs[conn]
	if _, err := p.nc.Write(t.payload); err != nil {
		p.drop()
		return fmt.Errorf("loadgen: tcp: write: %w", err)
	}
	if _, err := io.ReadFull(p.br, buf); err != nil {
		p.drop()
		return fmt.Errorf("loadgen: tcp: read: %w", err)
	}
	if !bytes.Equal(buf, t.payload) {
		p.drop()
		return fmt.Errorf("loadgen: tcp: %w", ErrMismatch)
	}
	return nil
}

// Close closes every connection.
func (t *TCP) Close() error { return closeAll(t.conns) }
