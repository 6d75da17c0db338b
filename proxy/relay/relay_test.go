package relay

import (
	"bytes"
	"crypto/rand"
	"io"
	"net"
	"testing"
	"time"
)

// tcpPair returns the two ends of a loopback TCP connection.
func tcpPair(t *testing.T) (*net.TCPConn, *net.TCPConn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	s, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(); s.Close() })
	return c.(*net.TCPConn), s.(*net.TCPConn)
}

// TestRelayHalfClose: client → [relay] → server echo-less: the client sends
// a request and half-closes; the server reads to EOF, answers, and closes;
// the client reads the whole answer.
func TestRelayHalfClose(t *testing.T) {
	for _, wrap := range []bool{false, true} {
		name := map[bool]string{false: "splice", true: "buffered"}[wrap]
		t.Run(name, func(t *testing.T) {
			client, proxyIn := tcpPair(t)
			proxyOut, server := tcpPair(t)
			var a, b net.Conn = proxyIn, proxyOut
			if wrap {
				a = plainConn{proxyIn}
			}
			done := make(chan Stats, 1)
			go func() { st, _ := Relay(a, b); done <- st }()

			req := make([]byte, 3<<20)
			rand.Read(req)
			go func() {
				client.Write(req)
				client.CloseWrite()
			}()
			got, err := io.ReadAll(server)
			if err != nil || !bytes.Equal(got, req) {
				t.Fatalf("server got %d bytes (err %v), want %d", len(got), err, len(req))
			}
			server.Write([]byte("bye"))
			server.Close()
			resp, err := io.ReadAll(client)
			if err != nil || string(resp) != "bye" {
				t.Fatalf("client got %q, %v", resp, err)
			}
			select {
			case st := <-done:
				if st.AToB != int64(len(req)) || st.BToA != 3 {
					t.Fatalf("stats %+v", st)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("relay did not end")
			}
		})
	}
}

// plainConn hides *net.TCPConn so the buffered path is exercised, while
// keeping CloseWrite.
type plainConn struct{ *net.TCPConn }

func TestRelayResetEndsBothSides(t *testing.T) {
	client, proxyIn := tcpPair(t)
	proxyOut, server := tcpPair(t)
	done := make(chan struct{})
	go func() { Relay(proxyIn, proxyOut); close(done) }()
	client.SetLinger(0)
	client.Close() // RST
	server.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadAll(server); err != nil {
		t.Fatalf("server read: %v", err)
	}
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("relay did not end after a reset")
	}
}
