package lease

import (
	"context"
	"errors"
	"net/netip"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

func workload(name, ip string, labels map[string]string) *Workload {
	return &Workload{Name: name, Namespace: "default", Labels: labels, Addr: netip.MustParseAddr(ip), Ports: []uint16{8080}}
}

func TestRegisterRenewDeregister(t *testing.T) {
	var changes atomic.Int32
	reg := prometheus.NewGauge(prometheus.GaugeOpts{Name: "r"})
	s, err := Open(Config{TTL: time.Minute, OnChange: func() { changes.Add(1) }, Registrations: reg})
	if err != nil {
		t.Fatal(err)
	}
	l1, err := s.Register(workload("web-1", "10.0.0.1", map[string]string{"app": "web"}), 0)
	if err != nil || l1.TTL != time.Minute || changes.Load() != 1 {
		t.Fatalf("register: %+v, %v, %d changes", l1, err, changes.Load())
	}
	// A renewal that changes nothing keeps the lease and is not a change.
	l2, err := s.Register(workload("web-1", "10.0.0.1", map[string]string{"app": "web"}), 10*time.Second)
	if err != nil || l2.ID != l1.ID || l2.TTL != 10*time.Second {
		t.Fatalf("renew: %+v, %v", l2, err)
	}
	if _, err := s.Register(workload("web-1", "10.0.0.1", map[string]string{"app": "web"}), 10*time.Second); err != nil || changes.Load() != 2 {
		t.Fatalf("renewal: %v, %d changes (the TTL change counts once)", err, changes.Load())
	}
	// New labels are a change, under the same lease.
	l3, err := s.Register(workload("web-1", "10.0.0.1", map[string]string{"app": "web", "version": "v2"}), 10*time.Second)
	if err != nil || l3.ID != l1.ID || changes.Load() != 3 || s.Workloads()[0].Labels["version"] != "v2" {
		t.Fatalf("label change: %+v, %v, %d changes", l3, err, changes.Load())
	}
	if got := value(reg); got != 1 {
		t.Fatalf("registrations gauge %v", got)
	}
	if _, err := s.Deregister(l1.ID); err != nil || s.Len() != 0 || value(reg) != 0 {
		t.Fatalf("deregister: %v, %d left", err, s.Len())
	}
	if _, err := s.Deregister(l1.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second deregister: %v", err)
	}
	if g := s.Grant(time.Hour); g != time.Minute {
		t.Fatalf("Grant(1h) = %v", g)
	}
}

func TestExpiry(t *testing.T) {
	exp := prometheus.NewCounter(prometheus.CounterOpts{Name: "e"})
	changed := make(chan struct{}, 10)
	s, err := Open(Config{TTL: 300 * time.Millisecond, Expiries: exp, OnChange: func() { changed <- struct{}{} }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go s.Run(ctx)
	start := time.Now()
	if _, err := s.Register(workload("a", "10.0.0.1", nil), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Register(workload("b", "10.0.0.2", nil), 0); err != nil {
		t.Fatal(err)
	}
	// b is renewed, a is not.
	for range 4 {
		time.Sleep(100 * time.Millisecond)
		if _, err := s.Register(workload("b", "10.0.0.2", nil), 0); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.After(2 * time.Second)
	for s.Len() != 1 {
		select {
		case <-changed:
		case <-deadline:
			t.Fatalf("a did not expire: %d leases", s.Len())
		}
	}
	if el := time.Since(start); el < 300*time.Millisecond || el > time.Second {
		t.Errorf("expired after %v, TTL 300ms", el)
	}
	if s.Workloads()[0].Name != "b" || value(exp) != 1 {
		t.Fatalf("left %v, %v expiries", s.Workloads()[0].Name, value(exp))
	}
}

func TestPersistence(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	now := time.Unix(1000, 0)
	s, err := Open(Config{Path: path, TTL: 5 * time.Second, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	w := workload("web-1", "10.0.0.1", map[string]string{"app": "web"})
	w.PortNames = map[string]uint16{"http": 8080}
	w.Identity, w.ServiceAccount, w.MeshPort = "spiffe://example.org/ns/default/sa/web", "web", 4143
	l, err := s.Register(w, 0)
	if err != nil {
		t.Fatal(err)
	}
	gone, err := s.Register(workload("gone", "10.0.0.2", nil), 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Deregister(gone.ID); err != nil {
		t.Fatal(err)
	}
	// The file is locked while open.
	if _, err := Open(Config{Path: path}); err == nil {
		t.Fatal("a second Open of the same file succeeded")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// Long after: the lease gets a fresh window from the restart.
	later := now.Add(time.Hour)
	s2, err := Open(Config{Path: path, TTL: 5 * time.Second, Now: func() time.Time { return later }})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	got, ok := s2.Get(l.ID)
	if !ok || s2.Len() != 1 || !got.Workload.equal(w) || !got.Deadline.Equal(later.Add(5*time.Second)) {
		t.Fatalf("restored %+v (%v), %d leases", got, ok, s2.Len())
	}
	// Renewing after the restart keeps the lease ID.
	if l2, err := s2.Register(w, 0); err != nil || l2.ID != l.ID {
		t.Fatalf("renew after restart: %+v, %v", l2, err)
	}
}

func value(m prometheus.Metric) float64 {
	var d dto.Metric
	if err := m.Write(&d); err != nil {
		panic(err)
	}
	if d.GetGauge() != nil {
		return d.GetGauge().GetValue()
	}
	return d.GetCounter().GetValue()
}
