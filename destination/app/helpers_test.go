package app_test

import (
	"context"
	"net/netip"
	"slices"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	destinationv1 "github.com/meshlite/meshlite/internal/api/destination/v1"
)

const webYAML = `apiVersion: v1
kind: Service
metadata:
  name: web
  annotations:
    meshlite.io/balancer: least-request
spec:
  clusterIP: 10.96.0.10
  selector:
    app: web
  ports:
  - name: http
    port: 80
    targetPort: 8080
    appProtocol: http
`

func dial(t *testing.T, addr string) destinationv1.DestinationClient {
	t.Helper()
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return destinationv1.NewDestinationClient(cc)
}

func workload(name, ip string, labels map[string]string, ports ...uint32) *destinationv1.Workload {
	if len(ports) == 0 {
		ports = []uint32{8080}
	}
	return &destinationv1.Workload{Name: name, Namespace: "default", Labels: labels, Address: ip, Ports: ports}
}

func register(t *testing.T, c destinationv1.DestinationClient, w *destinationv1.Workload) string {
	t.Helper()
	resp, err := c.Register(context.Background(), &destinationv1.RegisterRequest{Workload: w})
	if err != nil {
		t.Fatalf("register %s: %v", w.GetName(), err)
	}
	return resp.GetLeaseId()
}

// stream collects a watch's updates.
type stream struct {
	ch   chan *destinationv1.Update
	errc chan error
}

func watch(t *testing.T, c destinationv1.DestinationClient, target string) *stream {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	w, err := c.Watch(ctx, &destinationv1.WatchRequest{Target: target})
	if err != nil {
		t.Fatal(err)
	}
	s := &stream{ch: make(chan *destinationv1.Update, 64), errc: make(chan error, 1)}
	go func() {
		for {
			u, err := w.Recv()
			if err != nil {
				s.errc <- err
				return
			}
			s.ch <- u
		}
	}()
	return s
}

func (s *stream) next(t *testing.T) *destinationv1.Update {
	t.Helper()
	select {
	case u := <-s.ch:
		return u
	case err := <-s.errc:
		t.Fatalf("watch ended: %v", err)
	case <-time.After(5 * time.Second):
		t.Fatal("no update within 5s")
	}
	return nil
}

// none checks that no update arrives within d.
func (s *stream) none(t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case u := <-s.ch:
		t.Fatalf("unexpected update %v", u)
	case <-time.After(d):
	}
}

// set applies updates to an endpoint set the way a proxy does.
type set map[string]*destinationv1.Endpoint

func (st set) apply(u *destinationv1.Update) {
	if u.GetReset_() {
		clear(st)
	}
	for _, e := range u.GetAdd() {
		st[e.GetAddress()] = e
	}
	for _, a := range u.GetRemove() {
		delete(st, a)
	}
}

func (st set) addrs() []string {
	var out []string
	for a := range st {
		out = append(out, a)
	}
	slices.Sort(out)
	return out
}

// until applies updates until the set's addresses are want.
func (s *stream) until(t *testing.T, st set, want ...string) {
	t.Helper()
	slices.Sort(want)
	for !slices.Equal(st.addrs(), want) {
		u := s.next(t)
		st.apply(u)
	}
}

func addrsOf(eps []*destinationv1.Endpoint) []string {
	var out []string
	for _, e := range eps {
		out = append(out, e.GetAddress())
	}
	return out
}

// found skips not_found updates and returns the first update of the
// service.
func (s *stream) found(t *testing.T) *destinationv1.Update {
	t.Helper()
	for {
		if u := s.next(t); !u.GetNotFound() {
			return u
		}
	}
}

func mustAddr(s string) netip.Addr { return netip.MustParseAddr(s) }

func mustAddrPort(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }
