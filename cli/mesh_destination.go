package cli

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/netip"
	"strconv"

	"github.com/spiffe/go-spiffe/v2/spiffetls/tlsconfig"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	destinationv1 "github.com/meshlite/meshlite/internal/api/destination/v1"
	"github.com/meshlite/meshlite/internal/healthcheck"
	"github.com/meshlite/meshlite/proxy/discovery"
)

// destClient talks to the destination service.
type destClient struct {
	conn *grpc.ClientConn
	api  destinationv1.DestinationClient
}

func (d *destClient) Close() { d.conn.Close() }

// destination connects (lazily) to the destination service: over mutual
// TLS with meshctl's identity, expecting spiffe://<td>/ns/meshlite/sa/destination,
// or in plaintext with --destination-insecure.
func (m *mesh) destination(ctx context.Context) (*destClient, error) {
	if m.dest != nil {
		return m.dest, nil
	}
	var creds credentials.TransportCredentials
	if m.o.destinationInsecure {
		creds = insecure.NewCredentials()
	} else {
		src, err := m.identity(ctx)
		if err != nil {
			return nil, err
		}
		if src == nil {
			return nil, fmt.Errorf("the destination service speaks mutual TLS: give meshctl an identity (--identity-dir or --cert), or --destination-insecure")
		}
		tc := tlsconfig.MTLSClientConfig(src, src, tlsconfig.AuthorizeID(discovery.DefaultServerID(m.td)))
		tc.MinVersion = tls.VersionTLS13
		creds = credentials.NewTLS(tc)
	}
	conn, err := grpc.NewClient(m.o.destination, grpc.WithTransportCredentials(creds))
	if err != nil {
		return nil, fmt.Errorf("destination %s: %w", m.o.destination, err)
	}
	m.dest = &destClient{conn: conn, api: destinationv1.NewDestinationClient(conn)}
	return m.dest, nil
}

// listWorkloads asks the destination service for its workloads.
func (m *mesh) listWorkloads(ctx context.Context) ([]*destinationv1.Workload, error) {
	d, err := m.destination(ctx)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, m.o.timeout)
	defer cancel()
	resp, err := d.api.ListWorkloads(ctx, &destinationv1.ListWorkloadsRequest{Namespace: m.o.namespace})
	if err != nil {
		return nil, fmt.Errorf("destination %s: list workloads: %w", m.o.destination, err)
	}
	return resp.GetWorkloads(), nil
}

// watchTarget is what the watch check asks about: any answer, even "not
// found", shows that watches work.
const watchTarget = "meshctl-check.meshlite.svc.cluster.local:80"

// watchOnce opens a watch and waits for its first update.
func (m *mesh) watchOnce(ctx context.Context) error {
	d, err := m.destination(ctx)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, m.o.timeout)
	defer cancel()
	stream, err := d.api.Watch(ctx, &destinationv1.WatchRequest{Target: watchTarget, SourceNamespace: meshctlNamespace})
	if err != nil {
		return fmt.Errorf("destination %s: watch: %w", m.o.destination, err)
	}
	u, err := stream.Recv()
	if err != nil {
		return fmt.Errorf("destination %s: watch %s: no first answer: %w", m.o.destination, watchTarget, err)
	}
	if !u.GetReset_() {
		return fmt.Errorf("destination %s: watch %s: the first answer is not a full set (reset unset)", m.o.destination, watchTarget)
	}
	return nil
}

// proxies lists the proxies: those of --proxy, then the destination
// service's workloads (each at its address and --admin-port). A proxy of
// --proxy that the destination service knows takes its workload's name
// and identity. The error is the destination service's, with whatever
// proxies were found.
func (m *mesh) proxies(ctx context.Context) ([]healthcheck.Proxy, error) {
	var out []healthcheck.Proxy
	index := map[string]int{}
	for _, p := range m.o.proxies {
		a, _ := m.o.adminAddr(p)
		if _, dup := index[a]; !dup {
			index[a] = len(out)
			out = append(out, healthcheck.Proxy{Admin: a})
		}
	}
	if m.o.destination == "" {
		return out, nil
	}
	ws, err := m.listWorkloads(ctx)
	if err != nil {
		if status.Code(err) == codes.Unimplemented {
			err = fmt.Errorf("%w (an older destination service: give --proxy)", err)
		}
		return out, err
	}
	for _, w := range ws {
		addr, err := netip.ParseAddr(w.GetAddress())
		if err != nil {
			continue
		}
		a := net.JoinHostPort(addr.String(), strconv.Itoa(m.o.adminPort))
		p := healthcheck.Proxy{Admin: a, Namespace: w.GetNamespace(), Name: w.GetName(), Identity: w.GetIdentity()}
		if i, ok := index[a]; ok {
			out[i] = p
			continue
		}
		index[a] = len(out)
		out = append(out, p)
	}
	return out, nil
}
