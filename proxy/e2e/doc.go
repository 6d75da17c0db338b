// Package e2e holds the proxy's end-to-end tests: a whole meshlite-proxy
// (app.New, app.Proxy.Run) runs in the test process on real loopback
// sockets, and real clients and servers talk through it — the curl binary,
// grpc-go with grpc's interop TestService, gorilla/websocket, net/http and
// golang.org/x/net/http2 on both sides, raw TCP for byte-exact HTTP/1, and
// the promtool and h2spec tools against its admin and inbound listeners.
//
// There is no iptables here: each test gives the proxy an original
// destination function (server.OrigDstFunc) that returns the backend's
// address for the outbound listener, or 10.9.9.9:<backend port> for the
// inbound one (whose resolver sends it to 127.0.0.1 at the same port).
//
// The package has no non-test code; run it with
//
//	go test -race ./proxy/e2e/
//
// Tests that need an external tool (curl, promtool, h2spec) skip when the
// tool is missing, except under CI=true, where a missing tool fails them.
// h2spec is looked for in $MESHLITE_TOOLS_DIR (default
// ~/.cache/meshlite/bin), where `make tools` builds it. Its known failures
// are pinned in testdata/h2spec-known-failures.txt with their reasons.
package e2e
