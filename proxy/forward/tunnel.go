package forward

import (
	"bufio"
	"errors"
	"net"
	"net/http"

	"github.com/meshlite/meshlite/proxy/mtls"
	"github.com/meshlite/meshlite/proxy/relay"
	"github.com/meshlite/meshlite/proxy/resolve"
)

// tunnel serves a CONNECT request: the application's original destination
// is itself a forward proxy, so the request goes to it unchanged and
// everything after is relayed as bytes, the proxy's answer included.
func (f *Forwarder) tunnel(w http.ResponseWriter, r *http.Request, ep resolve.Endpoint) {
	up, err := f.Upstream.Dial(r.Context(), ep, mtls.ProtoOpaque)
	if err != nil {
		status, reason := classifyErr(err)
		if errors.Is(err, mtls.ErrNoIdentity) {
			status, reason = http.StatusServiceUnavailable, err.Error()
		}
		f.fail(w, r, status, reason)
		return
	}
	conn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		up.Close()
		f.fail(w, r, http.StatusInternalServerError, "connect: "+err.Error())
		return
	}
	// The request head goes as the client sent it, minus hop-by-hop
	// headers; the tunnel's bytes follow it unchanged.
	removeHopHeaders(r.Header)
	if _, ok := r.Header["User-Agent"]; !ok {
		r.Header["User-Agent"] = []string{""} // Request.Write adds none then
	}
	out := &http.Request{Method: r.Method, URL: r.URL, Host: r.Host, Header: r.Header, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1}
	bw := bufio.NewWriter(up)
	if err := out.Write(bw); err != nil || bw.Flush() != nil {
		conn.Close()
		up.Close()
		return
	}
	if _, err := relay.Relay(&hijackedConn{Conn: conn, r: brw.Reader}, up); err != nil {
		f.Log.Debug().Err(err).Msg("CONNECT tunnel ended with an error")
	}
}

var _ net.Conn = (*hijackedConn)(nil)
