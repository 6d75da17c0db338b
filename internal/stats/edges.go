package stats

import (
	"cmp"
	"net"
	"slices"
	"strings"

	"github.com/meshlite/meshlite/internal/promtext"
)

// Unknown stands for an end of a plaintext hop that no metric names.
const Unknown = "-"

// Edge is a client→server pair seen by the proxies.
type Edge struct {
	// Client and Server are the SPIFFE IDs of the hop's ends. On a
	// plaintext hop (MTLS false) no certificate names them: the proxy
	// that saw it stands for its own end (its identity, or its address),
	// the authority asked for for the server, and Unknown for a client.
	Client, Server string
	MTLS           bool
	// Requests over the hop (what its server saw, or its client when the
	// server's proxy was not scraped).
	Requests float64
	// Connections are the mutual TLS connections the server accepted.
	Connections float64
	// SeenBy says which ends' proxies reported the hop: "client",
	// "server" or both.
	SeenBy []string
}

type edgeKey struct {
	client, server string
	mtls           bool
}

type edgeAcc struct {
	in, out, conns     float64
	byClient, byServer bool
}

// Edges lists every client→server pair in the proxies' metrics: HTTP
// requests from response_total (both directions) and mutual TLS
// connections from the servers' tcp_open_total. A hop both proxies
// reported counts once.
func Edges(scrapes []Scrape) []Edge {
	acc := map[edgeKey]*edgeAcc{}
	get := func(k edgeKey) *edgeAcc {
		a := acc[k]
		if a == nil {
			a = &edgeAcc{}
			acc[k] = a
		}
		return a
	}
	for _, s := range scrapes {
		if s.Metrics == nil {
			continue
		}
		self := selfName(s)
		for _, m := range s.Metrics[metricResponses].GetMetric() {
			v := m.GetCounter().GetValue()
			mtls := promtext.Label(m, "tls") == "true"
			k := edgeKey{client: promtext.Label(m, "client_id"), server: promtext.Label(m, "server_id"), mtls: mtls}
			switch promtext.Label(m, "direction") {
			case "outbound":
				if !mtls {
					k.client, k.server = self, cmp.Or(promtext.Label(m, "authority"), Unknown)
				}
				a := get(k)
				a.out += v
				a.byClient = true
			case "inbound":
				if !mtls {
					k.client, k.server = Unknown, self
				}
				a := get(k)
				a.in += v
				a.byServer = true
			}
		}
		for _, m := range s.Metrics[metricTCPOpen].GetMetric() {
			if promtext.Label(m, "direction") != "inbound" || promtext.Label(m, "tls") != "true" {
				continue
			}
			a := get(edgeKey{client: promtext.Label(m, "client_id"), server: promtext.Label(m, "server_id"), mtls: true})
			a.conns += m.GetCounter().GetValue()
			a.byServer = true
		}
	}
	out := make([]Edge, 0, len(acc))
	for k, a := range acc {
		e := Edge{Client: k.client, Server: k.server, MTLS: k.mtls, Requests: max(a.in, a.out), Connections: a.conns}
		if a.byClient {
			e.SeenBy = append(e.SeenBy, "client")
		}
		if a.byServer {
			e.SeenBy = append(e.SeenBy, "server")
		}
		out = append(out, e)
	}
	slices.SortFunc(out, func(a, b Edge) int {
		return cmp.Or(strings.Compare(a.Client, b.Client), strings.Compare(a.Server, b.Server), boolCmp(a.MTLS, b.MTLS))
	})
	return out
}

// selfName is how a proxy names its own end of a plaintext hop: its
// identity, else its address.
func selfName(s Scrape) string {
	if s.Proxy.Identity != "" {
		return s.Proxy.Identity
	}
	if id := SelfIdentity(s.Metrics); id != "" {
		return id
	}
	if h, _, err := net.SplitHostPort(s.Proxy.Admin); err == nil {
		return h
	}
	return s.Proxy.Admin
}

func boolCmp(a, b bool) int {
	switch {
	case a == b:
		return 0
	case !a:
		return -1
	}
	return 1
}
