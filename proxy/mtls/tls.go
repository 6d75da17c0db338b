package mtls

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/spiffetls/tlsconfig"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
)

// Source is what a proxy's identity provides: its own SVID and the trust
// bundle to verify peers with.
type Source interface {
	x509svid.Source
	x509bundle.Source
}

// ErrNoIdentity is returned when a meshed peer is to be reached but this
// proxy has no identity to present: it fails closed instead of falling back
// to plaintext.
var ErrNoIdentity = errors.New("mtls: this proxy has no identity, refusing to reach a meshed endpoint in plaintext")

// ClientConfig is the TLS configuration for connecting to a peer proxy that
// must present exactly the SVID id.
func ClientConfig(src Source, id spiffeid.ID) *tls.Config {
	c := tlsconfig.MTLSClientConfig(src, src, tlsconfig.AuthorizeID(id))
	c.MinVersion = tls.VersionTLS13
	c.NextProtos = []string{ALPN}
	return c
}

// ServerConfig is the TLS configuration for terminating a peer proxy's
// connection: any client whose SVID chains to the trust bundle of its trust
// domain is accepted; authorization policy decides later what it may do.
func ServerConfig(src Source) *tls.Config {
	c := tlsconfig.MTLSServerConfig(src, src, tlsconfig.AuthorizeAny())
	c.MinVersion = tls.VersionTLS13
	c.NextProtos = []string{ALPN}
	return c
}

// HandshakeTimeout bounds a TLS handshake between proxies.
const HandshakeTimeout = 10 * time.Second

// Dial connects to a peer proxy at addr (its inbound listener), completes
// mutual TLS expecting the peer's SVID to be id, and writes the transport
// header h. The returned connection carries h.Proto.
func Dial(ctx context.Context, dial func(ctx context.Context, network, addr string) (net.Conn, error), addr string, src Source, id spiffeid.ID, h Header) (*tls.Conn, error) {
	if src == nil {
		return nil, ErrNoIdentity
	}
	raw, err := dial(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	tc := tls.Client(raw, ClientConfig(src, id))
	hctx, cancel := context.WithTimeout(ctx, HandshakeTimeout)
	defer cancel()
	if err := tc.HandshakeContext(hctx); err != nil {
		raw.Close()
		return nil, fmt.Errorf("mtls: handshake with %s expecting %s: %w", addr, id, err)
	}
	if p := tc.ConnectionState().NegotiatedProtocol; p != ALPN {
		tc.Close()
		return nil, fmt.Errorf("mtls: %s (%s) is not a meshlite proxy: negotiated ALPN %q", addr, id, p)
	}
	if _, err := tc.Write(h.Marshal()); err != nil {
		tc.Close()
		return nil, fmt.Errorf("mtls: writing transport header to %s: %w", addr, err)
	}
	return tc, nil
}

// Accept completes the server side of a peer proxy's connection c (whose
// ClientHello offered meshlite's ALPN), and reads its transport header. It
// returns the TLS connection, the client's SPIFFE ID and the header.
func Accept(ctx context.Context, c net.Conn, src Source) (*tls.Conn, spiffeid.ID, Header, error) {
	tc := tls.Server(c, ServerConfig(src))
	hctx, cancel := context.WithTimeout(ctx, HandshakeTimeout)
	defer cancel()
	if err := tc.HandshakeContext(hctx); err != nil {
		return nil, spiffeid.ID{}, Header{}, fmt.Errorf("mtls: handshake with %s: %w", c.RemoteAddr(), err)
	}
	st := tc.ConnectionState()
	if len(st.PeerCertificates) == 0 {
		return nil, spiffeid.ID{}, Header{}, fmt.Errorf("mtls: %s presented no certificate", c.RemoteAddr())
	}
	id, err := x509svid.IDFromCert(st.PeerCertificates[0])
	if err != nil {
		return nil, spiffeid.ID{}, Header{}, fmt.Errorf("mtls: client SVID of %s: %w", c.RemoteAddr(), err)
	}
	tc.SetReadDeadline(time.Now().Add(HandshakeTimeout)) //nolint:errcheck // best effort
	h, err := ReadHeader(tc)
	tc.SetReadDeadline(time.Time{}) //nolint:errcheck // best effort
	if err != nil {
		return nil, spiffeid.ID{}, Header{}, fmt.Errorf("mtls: from %s (%s): %w", c.RemoteAddr(), id, err)
	}
	return tc, id, h, nil
}
