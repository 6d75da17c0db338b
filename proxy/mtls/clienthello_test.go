package mtls

import (
	"crypto/tls"
	"net"
	"slices"
	"testing"
	"time"
)

// captureHello returns the first bytes a crypto/tls client sends with cfg.
func captureHello(t *testing.T, cfg *tls.Config) []byte {
	t.Helper()
	c, s := net.Pipe()
	defer s.Close()
	go func() {
		tls.Client(c, cfg).Handshake()
		c.Close()
	}()
	buf := make([]byte, MaxHelloBytes)
	n := 0
	s.SetReadDeadline(time.Now().Add(2 * time.Second))
	for {
		m, err := s.Read(buf[n:])
		n += m
		if l, ok := HelloLen(buf[:n]); ok && n >= l {
			return buf[:l]
		}
		if err != nil {
			t.Fatalf("reading hello: %v", err)
		}
	}
}

func TestParseALPN(t *testing.T) {
	for _, tc := range []struct {
		name string
		alpn []string
		ours bool
	}{
		{"meshlite", []string{ALPN}, true},
		{"h2 then meshlite", []string{"h2", ALPN}, true},
		{"app TLS", []string{"h2", "http/1.1"}, false},
		{"no ALPN", nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hello := captureHello(t, &tls.Config{InsecureSkipVerify: true, NextProtos: tc.alpn, ServerName: "web.default"})
			got, err := parseALPN(hello)
			if err != nil || !slices.Equal(got, tc.alpn) {
				t.Fatalf("parseALPN = %q, %v; want %q", got, err, tc.alpn)
			}
			if OffersMeshlite(hello) != tc.ours {
				t.Fatalf("OffersMeshlite = %v", !tc.ours)
			}
			if _, err := parseALPN(hello[:len(hello)-1]); err != errShort {
				t.Fatalf("truncated hello: %v, want errShort", err)
			}
		})
	}
}

func FuzzParseALPN(f *testing.F) {
	f.Add([]byte{0x16, 3, 1, 0, 4, 1, 0, 0, 0})
	f.Add([]byte("GET / HTTP/1.1\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		parseALPN(b) // must not panic or over-read
	})
}
