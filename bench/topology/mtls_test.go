package topology

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/meshlite/meshlite/internal/netenv"
)

func TestMTLSProxyArgs(t *testing.T) {
	server := &netenv.Pod{Name: "s", Addr: netip.MustParseAddr("10.201.0.3")}
	identity := netip.MustParseAddrPort("10.201.0.4:8080")
	want := map[Side]string{
		ClientSide: "--identity-addr 10.201.0.4:8080 --identity-trust-anchors /d/anchor.crt --identity-trust-domain cluster.local " +
			"--identity-namespace bench --identity-service-account client --identity-token-file /d/client.token " +
			"--meshed-endpoints 10.201.0.3=spiffe://cluster.local/ns/bench/sa/server",
		ServerSide: "--identity-addr 10.201.0.4:8080 --identity-trust-anchors /d/anchor.crt --identity-trust-domain cluster.local " +
			"--identity-namespace bench --identity-service-account server --identity-token-file /d/server.token",
	}
	for side, w := range want {
		args, err := mtlsProxyArgs(side, identity, "/d/anchor.crt", "/d/"+string(side)+".token", server)
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(args, " "); got != w {
			t.Errorf("%s:\ngot  %s\nwant %s", side, got, w)
		}
	}
}

func TestMTLSTopology(t *testing.T) {
	all := All()
	i := slices.IndexFunc(all, func(tp Topology) bool { return tp.Name == "meshlite-mtls" })
	if i < 0 || all[i-1].Name != "meshlite" {
		t.Fatalf("meshlite-mtls at %d, want right after meshlite", i)
	}
	tp := all[i]
	if !tp.Control || tp.Verify == nil || tp.Protos != nil || tp.Capture != transparent {
		t.Errorf("meshlite-mtls: control %v, verify %v, protos %v, capture %q", tp.Control, tp.Verify != nil, tp.Protos, tp.Capture)
	}
}

// metricsServer serves a fixed Prometheus exposition.
func metricsServer(t *testing.T, text string) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte(text)) }))
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestVerifyMTLS(t *testing.T) {
	const (
		clientOK = `response_total{direction="outbound",authority="10.201.0.3:8080",tls="true",client_id="spiffe://cluster.local/ns/bench/sa/client",server_id="spiffe://cluster.local/ns/bench/sa/server",status_code="200",classification="success",grpc_status=""} 2
response_total{direction="outbound",authority="10.201.0.3:8081",tls="true",client_id="spiffe://cluster.local/ns/bench/sa/client",server_id="spiffe://cluster.local/ns/bench/sa/server",status_code="200",classification="success",grpc_status="0"} 1
tcp_open_total{direction="outbound",tls="false",client_id="",server_id=""} 4
`
		clientPlain = `response_total{direction="outbound",authority="10.201.0.3:8080",tls="false",client_id="",server_id="",status_code="200",classification="success",grpc_status=""} 3
`
		clientMixed = clientOK + clientPlain
		serverOK    = `tcp_open_total{direction="inbound",tls="true",client_id="spiffe://cluster.local/ns/bench/sa/client",server_id="spiffe://cluster.local/ns/bench/sa/server"} 2
`
		serverMixed = serverOK + `tcp_open_total{direction="inbound",tls="false",client_id="",server_id=""} 1
`
	)
	cases := []struct {
		name, client, server string
		ok                   bool
	}{
		{"mtls", clientOK, serverOK, true},
		{"plaintext", clientPlain, `tcp_open_total{direction="inbound",tls="false",client_id="",server_id=""} 4` + "\n", false},
		{"some plaintext HTTP", clientMixed, serverOK, false},
		{"plaintext TCP to the server", clientOK, serverMixed, false},
		{"no traffic", "", "", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			proxies := []Proxy{
				{Side: ClientSide, MetricsURL: metricsServer(t, c.client)},
				{Side: ServerSide, MetricsURL: metricsServer(t, c.server)},
			}
			err := verifyMTLS(t.Context(), proxies)
			if (err == nil) != c.ok {
				t.Errorf("verifyMTLS = %v, want ok %v", err, c.ok)
			}
		})
	}
	if err := verifyMTLS(t.Context(), nil); err == nil {
		t.Error("verifyMTLS without proxies: want an error")
	}
}
