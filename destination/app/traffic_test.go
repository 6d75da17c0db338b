package app_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/meshlite/meshlite/destination/destinationtest"
	destinationv1 "github.com/meshlite/meshlite/internal/api/destination/v1"
)

func readExample(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile("../../examples/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// policyUpdate waits for an update carrying a policy.
func (s *stream) policyUpdate(t *testing.T) *destinationv1.Policy {
	t.Helper()
	for {
		if u := s.next(t); u.GetPolicy() != nil {
			return u.GetPolicy()
		}
	}
}

// The seed's VirtualService and DestinationRule, written into the
// configuration directory, reach a Watch of user-service translated; an
// edit follows; a bad edit leaves the policy in force.
func TestWatchTrafficPolicy(t *testing.T) {
	srv := destinationtest.Start(t, destinationtest.Options{})
	srv.WriteFile(t, "seed-services.yaml", readExample(t, "seed-services.yaml"))
	c := dial(t, srv.Addr)
	w := watch(t, c, "user-service:80")
	u := w.found(t)
	if u.GetPolicy().GetBalancer() != destinationv1.Balancer_BALANCER_UNSPECIFIED || len(u.GetPolicy().GetHttpRoutes()) != 0 {
		t.Fatalf("policy without routing configuration: %v", u.GetPolicy())
	}

	seed := readExample(t, "seed-routing.yaml")
	srv.WriteFile(t, "seed-routing.yaml", seed)
	p := w.policyUpdate(t)
	rs := p.GetHttpRoutes()
	if p.GetBalancer() != destinationv1.Balancer_BALANCER_LEAST_REQUEST || len(p.GetSubsets()) != 2 || len(rs) != 2 ||
		rs[0].GetMatches()[0].GetHeaders()[0].GetValue().GetExact() != "v2" || rs[0].GetBackends()[0].GetSubset() != "v2" ||
		rs[1].GetBackends()[0].GetSubset() != "v1" || rs[1].GetBackends()[0].GetWeight() != 100 {
		t.Fatalf("seed policy: %v", p)
	}

	// The VirtualService changes: the watch gets the new routes.
	srv.WriteFile(t, "seed-routing.yaml", strings.Replace(seed, "exact: v2", "prefix: v2", 1))
	p2 := w.policyUpdate(t)
	if got := p2.GetHttpRoutes()[0].GetMatches()[0].GetHeaders()[0].GetValue().GetPrefix(); got != "v2" {
		t.Fatalf("after the edit: %v", p2)
	}

	// Bad edits are refused: nothing is sent, the policy stays.
	rejected := srv.Metric(t, "destination_config_reloads_total", "result", "rejected")
	for _, bad := range []string{
		strings.Replace(seed, "weight: 100", "weight: -100", 1),        // negative weight
		strings.Replace(seed, "subset: v1", "subset: v9", 1),           // undefined subset
		strings.Replace(seed, "exact: v2", "regex: 'v(2'", 1),          // bad regex
		strings.Replace(seed, "  hosts:\n", "  hostz:\n", 1),           // unknown field
		strings.Replace(seed, "simple: LEAST_CONN", "simple: FAST", 1), // not a balancer
	} {
		srv.WriteFile(t, "seed-routing.yaml", bad)
		destinationtest.Eventually(t, 5*time.Second, "rejection counted", func() bool {
			return srv.Metric(t, "destination_config_reloads_total", "result", "rejected") > rejected
		})
		rejected = srv.Metric(t, "destination_config_reloads_total", "result", "rejected")
	}
	w.none(t, 200*time.Millisecond)
	if !strings.Contains(srv.Logs(), "seed-routing.yaml:22: spec.http[1].route[0].weight") {
		t.Errorf("the rejection of the negative weight is not logged with file, line and field:\n%s", srv.Logs())
	}
	// A new watch sees the policy in force: the last good one.
	w2 := watch(t, c, "user-service.default.svc.cluster.local:80")
	if u := w2.found(t); !proto.Equal(u.GetPolicy(), p2) {
		t.Fatalf("policy in force after bad edits: %v", u.GetPolicy())
	}
}

// inboundStream collects a WatchInbound's policies.
func watchInbound(t *testing.T, c destinationv1.DestinationClient, ns string, labels map[string]string) chan *destinationv1.InboundPolicy {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	w, err := c.WatchInbound(ctx, &destinationv1.WatchInboundRequest{Namespace: ns, Labels: labels})
	if err != nil {
		t.Fatal(err)
	}
	ch := make(chan *destinationv1.InboundPolicy, 16)
	go func() {
		defer close(ch)
		for {
			p, err := w.Recv()
			if err != nil {
				return
			}
			ch <- p
		}
	}()
	return ch
}

func nextInbound(t *testing.T, ch chan *destinationv1.InboundPolicy) *destinationv1.InboundPolicy {
	t.Helper()
	select {
	case p, ok := <-ch:
		if !ok {
			t.Fatal("inbound watch ended")
		}
		return p
	case <-time.After(5 * time.Second):
		t.Fatal("no inbound policy within 5s")
	}
	return nil
}

// WatchInbound sends the selected workload's translated PeerAuthentication
// and AuthorizationPolicy, then each change.
func TestWatchInbound(t *testing.T) {
	srv := destinationtest.Start(t, destinationtest.Options{})
	c := dial(t, srv.Addr)
	ratings := watchInbound(t, c, "default", map[string]string{"app": "ratings", "version": "v1"})
	if p := nextInbound(t, ratings); p.GetMtlsMode() != destinationv1.MTLSMode_MTLS_MODE_UNSPECIFIED || len(p.GetAuthorization()) != 0 {
		t.Fatalf("inbound policy without configuration: %v", p)
	}
	srv.WriteFile(t, "peer-authentication.yaml", readExample(t, "peer-authentication.yaml"))
	srv.WriteFile(t, "authorization-policy.yaml", readExample(t, "authorization-policy.yaml"))
	var p *destinationv1.InboundPolicy
	for p == nil || len(p.GetAuthorization()) < 4 {
		p = nextInbound(t, ratings)
	}
	if p.GetMtlsMode() != destinationv1.MTLSMode_MTLS_MODE_STRICT || p.GetPortMtls()[9090] != destinationv1.MTLSMode_MTLS_MODE_PERMISSIVE {
		t.Fatalf("mTLS: %v", p)
	}
	var names []string
	for _, a := range p.GetAuthorization() {
		names = append(names, a.GetName())
	}
	if strings.Join(names, " ") != "meshlite/deny-dev-writes default/allow-nothing default/ratings-viewer default/audit-ratings-admin" {
		t.Fatalf("authorization policies: %v", names)
	}

	// Another namespace's workload gets the mesh-wide policies only.
	other := watchInbound(t, c, "shop", map[string]string{"app": "ratings"})
	if q := nextInbound(t, other); q.GetMtlsMode() != destinationv1.MTLSMode_MTLS_MODE_STRICT || len(q.GetAuthorization()) != 1 {
		t.Fatalf("shop workload: %v", q)
	}

	// A change: ratings is opened to productpage too.
	authz := readExample(t, "authorization-policy.yaml")
	srv.WriteFile(t, "authorization-policy.yaml", strings.Replace(authz,
		`principals: ["cluster.local/ns/default/sa/bookinfo-reviews"]`,
		`principals: ["cluster.local/ns/default/sa/bookinfo-reviews", "cluster.local/ns/default/sa/bookinfo-productpage"]`, 1))
	p = nextInbound(t, ratings)
	if got := p.GetAuthorization()[2].GetRules()[0].GetFrom()[0].GetPrincipals(); len(got) != 2 {
		t.Fatalf("after the change: %v", p)
	}
	// A bad request is refused.
	bad, err := c.WatchInbound(context.Background(), &destinationv1.WatchInboundRequest{Namespace: "Not_A_Namespace"})
	if err == nil {
		_, err = bad.Recv()
	}
	if status.Code(err) != codes.InvalidArgument {
		t.Errorf("bad namespace: %v", err)
	}
	// A bad edit changes nothing.
	srv.WriteFile(t, "authorization-policy.yaml", strings.Replace(authz, `ports: ["9080"]`, `ports: ["http"]`, 1))
	select {
	case q := <-ratings:
		t.Fatalf("update after a bad edit: %v", q)
	case <-time.After(300 * time.Millisecond):
	}
}
