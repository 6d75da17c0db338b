package mtls

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

var dialer = (&net.Dialer{Timeout: 2 * time.Second}).DialContext

// serve accepts one connection on a fresh loopback listener with Accept and
// echoes what follows the header; the result of Accept goes to the channel.
type accepted struct {
	id  spiffeid.ID
	h   Header
	err error
}

func serve(t *testing.T, src Source) (string, <-chan accepted) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	out := make(chan accepted, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		tc, id, h, err := Accept(context.Background(), c, src)
		out <- accepted{id, h, err}
		if err == nil {
			io.Copy(tc, tc)
			tc.Close()
		}
	}()
	return ln.Addr().String(), out
}

func TestMutualTLSRoundTrip(t *testing.T) {
	ca := newCA(t, "example.org")
	server := newSource(ca.svid(t, "/ns/default/sa/web", leafOpts{}), ca.bundle())
	client := newSource(ca.svid(t, "/ns/default/sa/client", leafOpts{}), ca.bundle())
	addr, got := serve(t, server)
	want := spiffeid.RequireFromString("spiffe://example.org/ns/default/sa/web")
	c, err := Dial(context.Background(), dialer, addr, client, want, Header{Proto: ProtoOpaque, Port: 8080})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	st := c.ConnectionState()
	if st.Version != tls.VersionTLS13 || st.NegotiatedProtocol != ALPN {
		t.Fatalf("version %x alpn %q", st.Version, st.NegotiatedProtocol)
	}
	a := <-got
	if a.err != nil || a.id.String() != "spiffe://example.org/ns/default/sa/client" || a.h != (Header{ProtoOpaque, 8080}) {
		t.Fatalf("server side: %+v", a)
	}
	c.Write([]byte("ping"))
	buf := make([]byte, 4)
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "ping" {
		t.Fatalf("echo: %q %v", buf, err)
	}
}

// TestRefusals is the refusal matrix: each case must fail the connection,
// on the side that should notice.
func TestRefusals(t *testing.T) {
	ca := newCA(t, "example.org")
	foreign := newCA(t, "evil.org")
	web := spiffeid.RequireFromString("spiffe://example.org/ns/default/sa/web")
	goodClient := func() Source { return newSource(ca.svid(t, "/ns/default/sa/client", leafOpts{}), ca.bundle()) }
	goodServer := func() Source { return newSource(ca.svid(t, "/ns/default/sa/web", leafOpts{}), ca.bundle()) }
	now := time.Now()
	for _, tc := range []struct {
		name           string
		server, client Source
		expect         spiffeid.ID
		wantErr        string // in the client's error
	}{
		{"wrong SPIFFE ID", newSource(ca.svid(t, "/ns/default/sa/other", leafOpts{}), ca.bundle()), goodClient(), web, "unexpected ID"},
		{"foreign trust domain server", newSource(foreign.svid(t, "/ns/default/sa/web", leafOpts{}), foreign.bundle()), goodClient(),
			spiffeid.RequireFromString("spiffe://evil.org/ns/default/sa/web"), "no X.509 bundle"},
		{"expired server leaf", newSource(ca.svid(t, "/ns/default/sa/web", leafOpts{notBefore: now.Add(-2 * time.Hour), notAfter: now.Add(-time.Hour)}), ca.bundle()), goodClient(), web, "expired"},
		{"not-yet-valid server leaf", newSource(ca.svid(t, "/ns/default/sa/web", leafOpts{notBefore: now.Add(time.Hour), notAfter: now.Add(2 * time.Hour)}), ca.bundle()), goodClient(), web, "not yet valid"},
		{"server leaf marked CA", newSource(ca.svid(t, "/ns/default/sa/web", leafOpts{isCA: true}), ca.bundle()), goodClient(), web, "CA"},
		{"two URI SANs", newSource(ca.svid(t, "/ns/default/sa/web", leafOpts{extraURI: "spiffe://example.org/ns/default/sa/admin"}), ca.bundle()), goodClient(), web, "URI"},
		{"self-signed with the right URI", newSource(ca.svid(t, "/ns/default/sa/web", leafOpts{selfSigned: true}), ca.bundle()), goodClient(), web, "certificate"},
		{"client from a foreign trust domain", goodServer(), newSource(foreign.svid(t, "/ns/default/sa/client", leafOpts{}), foreign.bundle(), ca.bundle()), web, ""},
		{"expired client leaf", goodServer(), newSource(ca.svid(t, "/ns/default/sa/client", leafOpts{notBefore: now.Add(-2 * time.Hour), notAfter: now.Add(-time.Hour)}), ca.bundle()), web, ""},
		{"self-signed client", goodServer(), newSource(ca.svid(t, "/ns/default/sa/client", leafOpts{selfSigned: true}), ca.bundle()), web, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr, got := serve(t, tc.server)
			c, err := Dial(context.Background(), dialer, addr, tc.client, tc.expect, Header{Proto: ProtoHTTP2, Port: 80})
			if err == nil {
				// TLS 1.3: the client may finish before the server
				// rejects its certificate; the connection must then
				// fail on first use.
				c.SetReadDeadline(time.Now().Add(2 * time.Second))
				_, err = c.Read(make([]byte, 1))
				c.Close()
			}
			if err == nil {
				t.Fatal("connection succeeded")
			}
			if tc.wantErr != "" && !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("client error %q does not mention %q", err, tc.wantErr)
			}
			if tc.wantErr == "" {
				if a := <-got; a.err == nil {
					t.Fatal("server accepted the client")
				}
			}
		})
	}
}

func TestTLS12Refused(t *testing.T) {
	ca := newCA(t, "example.org")
	addr, got := serve(t, newSource(ca.svid(t, "/ns/default/sa/web", leafOpts{}), ca.bundle()))
	cfg := ClientConfig(newSource(ca.svid(t, "/ns/default/sa/client", leafOpts{}), ca.bundle()), spiffeid.RequireFromString("spiffe://example.org/ns/default/sa/web"))
	cfg.MinVersion, cfg.MaxVersion = tls.VersionTLS12, tls.VersionTLS12
	c, err := tls.Dial("tcp", addr, cfg)
	if err == nil {
		c.Close()
		t.Fatal("TLS 1.2 handshake succeeded")
	}
	if a := <-got; a.err == nil || !strings.Contains(a.err.Error(), "version") {
		t.Fatalf("server error %v, want a protocol version refusal", a.err)
	}
}

func TestPlaintextServerRefused(t *testing.T) {
	ca := newCA(t, "example.org")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		c.Write([]byte("HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n"))
		c.Close()
	}()
	_, err = Dial(context.Background(), dialer, ln.Addr().String(), newSource(ca.svid(t, "/ns/default/sa/client", leafOpts{}), ca.bundle()),
		spiffeid.RequireFromString("spiffe://example.org/ns/default/sa/web"), Header{Proto: ProtoHTTP1, Port: 80})
	if err == nil || !strings.Contains(err.Error(), "handshake") {
		t.Fatalf("err = %v, want a failed handshake", err)
	}
}

func TestNoIdentityFailsClosed(t *testing.T) {
	_, err := Dial(context.Background(), dialer, "127.0.0.1:1", nil, spiffeid.RequireFromString("spiffe://example.org/x"), Header{Proto: ProtoOpaque, Port: 1})
	if !errors.Is(err, ErrNoIdentity) {
		t.Fatalf("err = %v", err)
	}
}

func TestHeader(t *testing.T) {
	h := Header{Proto: ProtoHTTP1, Port: 8080}
	got, err := ReadHeader(bytes.NewReader(h.Marshal()))
	if err != nil || got != h {
		t.Fatalf("round trip: %+v %v", got, err)
	}
	withExt := append(h.Marshal(), 'x', 'y', 'z', 'B')
	withExt[8] = 3
	r := bytes.NewReader(withExt)
	if got, err := ReadHeader(r); err != nil || got != h {
		t.Fatalf("with extensions: %+v %v", got, err)
	}
	if rest, _ := io.ReadAll(r); string(rest) != "B" {
		t.Fatalf("extensions not skipped exactly: rest %q", rest)
	}
	for _, bad := range [][]byte{
		[]byte("GET / HTTP"), {'M', 'L', 'T', 2, 1, 0, 80, 0, 0}, {'M', 'L', 'T', 1, 9, 0, 80, 0, 0},
		{'M', 'L', 'T', 1, 1, 0, 0, 0, 0}, {'M', 'L', 'T', 1, 1, 0, 80, 0xff, 0xff}, {'M', 'L'},
	} {
		if _, err := ReadHeader(bytes.NewReader(bad)); err == nil {
			t.Errorf("ReadHeader(%q) accepted", bad)
		}
	}
}

func FuzzHeader(f *testing.F) {
	f.Add(Header{Proto: ProtoHTTP2, Port: 443}.Marshal())
	f.Add([]byte("MLT\x01\x01\x00\x50\x00\x02ab"))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := ReadHeader(bytes.NewReader(b))
		if err == nil {
			if got, err := ReadHeader(bytes.NewReader(h.Marshal())); err != nil || got != h {
				t.Fatalf("re-marshal of %+v: %+v %v", h, got, err)
			}
		}
	})
}
