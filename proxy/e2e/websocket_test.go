package e2e

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// wsEcho upgrades to WebSocket, greets the client at once and then echoes
// every message with an "echo: " prefix until the client closes.
func wsEcho(t *testing.T) http.Handler {
	up := websocket.Upgrader{}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, http.Header{"X-Backend": {"ws"}})
		if err != nil {
			t.Errorf("backend upgrade: %v", err)
			return
		}
		defer c.Close()
		if err := c.WriteMessage(websocket.TextMessage, []byte("hello from the server")); err != nil {
			return
		}
		for {
			typ, msg, err := c.ReadMessage()
			if err != nil {
				return
			}
			if err := c.WriteMessage(typ, append([]byte("echo: "), msg...)); err != nil {
				return
			}
		}
	})
}

// TestWebSocket runs a gorilla/websocket client and server through the
// outbound listener.
func TestWebSocket(t *testing.T) {
	t.Parallel()
	be := newBackend(t, wsEcho(t), false)
	p := startProxy(t, dstFunc(be.Addr))

	t.Run("gorilla", func(t *testing.T) {
		d := websocket.Dialer{
			NetDialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
				var d net.Dialer
				return d.DialContext(ctx, network, p.Out)
			},
			HandshakeTimeout: 5 * time.Second,
		}
		c, resp, err := d.Dial("ws://chat.test/socket", nil)
		if err != nil {
			t.Fatalf("dial through the proxy: %v", err)
		}
		defer c.Close()
		if resp.StatusCode != http.StatusSwitchingProtocols || resp.Header.Get("X-Backend") != "ws" {
			t.Errorf("handshake response %d %v", resp.StatusCode, resp.Header)
		}
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		// Sent right after the handshake, before reading anything: the
		// server's greeting and this message cross in the proxy.
		if err := c.WriteMessage(websocket.TextMessage, []byte("first")); err != nil {
			t.Fatal(err)
		}
		expect := func(want string) {
			t.Helper()
			_, msg, err := c.ReadMessage()
			if err != nil {
				t.Fatalf("read (want %q): %v", want, err)
			}
			if string(msg) != want {
				t.Fatalf("got %q, want %q", msg, want)
			}
		}
		expect("hello from the server")
		expect("echo: first")
		for i := range 10 {
			msg := strings.Repeat(fmt.Sprint(i), 1+i*3000)
			if err := c.WriteMessage(websocket.BinaryMessage, []byte(msg)); err != nil {
				t.Fatal(err)
			}
			expect("echo: " + msg)
		}
		if err := c.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, "bye")); err != nil {
			t.Fatal(err)
		}
		if _, _, err := c.ReadMessage(); !websocket.IsCloseError(err, websocket.CloseNormalClosure) {
			t.Errorf("after close: %v, want the server's normal closure", err)
		}
	})

	t.Run("frame-pipelined-with-handshake", func(t *testing.T) {
		// A client that sends its first frame in the same write as the
		// upgrade request: the frame sits in the proxy's read buffer when
		// the 101 arrives and must still reach the server.
		c := dial(t, p.Out)
		c.SetDeadline(time.Now().Add(10 * time.Second))
		req := "GET /socket HTTP/1.1\r\nHost: chat.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
			"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
		if _, err := io.WriteString(c, req+string(maskedFrame("early"))); err != nil {
			t.Fatal(err)
		}
		br := bufio.NewReader(c)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusSwitchingProtocols || !strings.EqualFold(resp.Header.Get("Upgrade"), "websocket") ||
			resp.Header.Get("Sec-Websocket-Accept") != "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" {
			t.Fatalf("handshake response %d %v", resp.StatusCode, resp.Header)
		}
		for _, want := range []string{"hello from the server", "echo: early"} {
			got, err := readServerFrame(br)
			if err != nil {
				t.Fatalf("reading %q: %v", want, err)
			}
			if got != want {
				t.Fatalf("got %q, want %q", got, want)
			}
		}
	})

	t.Run("data-sent-before-the-101", func(t *testing.T) {
		// A client that sends right after its upgrade request, while the
		// server is still deciding: its bytes wait in the proxy (in part
		// already read from the socket) and must reach the server whole
		// once the upgrade is done. A late backend makes sure they arrive
		// before the 101.
		slow := newBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			time.Sleep(200 * time.Millisecond)
			wsEcho(t).ServeHTTP(w, r)
		}), false)
		p := startProxy(t, dstFunc(slow.Addr))
		c := dial(t, p.Out)
		c.SetDeadline(time.Now().Add(10 * time.Second))
		req := "GET /socket HTTP/1.1\r\nHost: chat.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
			"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
		if _, err := io.WriteString(c, req); err != nil {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond) // the proxy has read the request by now
		if _, err := c.Write(maskedFrame("sent early")); err != nil {
			t.Fatal(err)
		}
		br := bufio.NewReader(c)
		resp, err := http.ReadResponse(br, nil)
		if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
			t.Fatalf("handshake: %v %v", resp, err)
		}
		for _, want := range []string{"hello from the server", "echo: sent early"} {
			got, err := readServerFrame(br)
			if err != nil || got != want {
				t.Fatalf("got %q, %v; want %q", got, err, want)
			}
		}
	})

	p.waitMetric(t, "response_total", map[string]string{"authority": "chat.test", "status_code": "101", "classification": "success"}, 2)
}

// maskedFrame is a final, masked text frame of a short payload, as a
// client sends it.
func maskedFrame(payload string) []byte {
	key := [4]byte{1, 2, 3, 4}
	f := []byte{0x81, 0x80 | byte(len(payload)), key[0], key[1], key[2], key[3]}
	for i := range len(payload) {
		f = append(f, payload[i]^key[i%4])
	}
	return f
}

// readServerFrame reads one unmasked, short text frame.
func readServerFrame(br *bufio.Reader) (string, error) {
	var h [2]byte
	if _, err := io.ReadFull(br, h[:]); err != nil {
		return "", err
	}
	if h[0] != 0x81 || h[1]&0x80 != 0 || h[1] > 125 {
		return "", fmt.Errorf("unexpected frame header %x", h)
	}
	b := make([]byte, h[1])
	_, err := io.ReadFull(br, b)
	return string(b), err
}
