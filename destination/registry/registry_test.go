package registry

import (
	"net/netip"
	"testing"
)

func TestParseTarget(t *testing.T) {
	for _, tc := range []struct {
		in, ns string
		want   Target
		err    bool
	}{
		{in: "10.96.0.10:80", want: Target{Addr: netip.MustParseAddr("10.96.0.10"), Port: 80}},
		{in: "[::ffff:10.0.0.1]:80", want: Target{Addr: netip.MustParseAddr("10.0.0.1"), Port: 80}},
		{in: "[fd00::1]:8080", want: Target{Addr: netip.MustParseAddr("fd00::1"), Port: 8080}},
		{in: "web:80", want: Target{Name: "web", Namespace: "default", Port: 80}},
		{in: "web:80", ns: "shop", want: Target{Name: "web", Namespace: "shop", Port: 80}},
		{in: "web.shop:80", ns: "other", want: Target{Name: "web", Namespace: "shop", Port: 80}},
		{in: "web.shop.svc:80", want: Target{Name: "web", Namespace: "shop", Port: 80}},
		{in: "Web.Shop.svc.cluster.local.:80", want: Target{Name: "web", Namespace: "shop", Port: 80}},
		{in: "example.com.au:443", want: Target{External: true, Port: 443}},
		{in: "web", err: true},
		{in: "web:0", err: true},
		{in: "web:99999", err: true},
		{in: ":80", err: true},
	} {
		got, err := ParseTarget(tc.in, tc.ns, "")
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("ParseTarget(%q, %q) = %+v, %v; want %+v (error %v)", tc.in, tc.ns, got, err, tc.want, tc.err)
		}
	}
}

func TestSnapshotLookup(t *testing.T) {
	web := &Service{Name: "web", Namespace: "default", Addrs: []netip.Addr{netip.MustParseAddr("10.96.0.10")},
		Ports: []Port{{Name: "http", Port: 80}}}
	dup := &Service{Name: "zzz", Namespace: "default", Addrs: []netip.Addr{netip.MustParseAddr("10.96.0.10")},
		Ports: []Port{{Port: 80}}}
	snap := NewSnapshot([]*Service{dup, web})
	for _, tc := range []struct {
		target string
		want   *Service
	}{
		{"10.96.0.10:80", web}, // the first in key order keeps a shared address
		{"web:80", web},
		{"zzz.default:80", dup},
		{"10.96.0.10:81", nil},
		{"10.96.0.11:80", nil},
		{"web.other:80", nil},
	} {
		tg, err := ParseTarget(tc.target, "", "")
		if err != nil {
			t.Fatal(err)
		}
		svc, _, ok := snap.Lookup(tg)
		if ok != (tc.want != nil) || svc != tc.want {
			t.Errorf("Lookup(%s) = %v, %v; want %v", tc.target, svc, ok, tc.want)
		}
	}
	if web.Policy == nil {
		t.Error("NewSnapshot left a nil policy")
	}
}

func TestProtocolOf(t *testing.T) {
	for _, tc := range []struct {
		app, name string
		want      Protocol
	}{
		{"http", "", ProtocolHTTP1},
		{"kubernetes.io/h2c", "web", ProtocolHTTP2},
		{"", "grpc-api", ProtocolHTTP2},
		{"", "tcp", ProtocolOpaque},
		{"", "web", ProtocolUnknown},
		{"HTTP", "tcp", ProtocolHTTP1},
	} {
		if got := ProtocolOf(tc.app, tc.name); got != tc.want {
			t.Errorf("ProtocolOf(%q, %q) = %v, want %v", tc.app, tc.name, got, tc.want)
		}
	}
}

func TestPublisher(t *testing.T) {
	p := NewPublisher()
	s0, ch := p.Snapshot()
	if len(s0.Services()) != 0 {
		t.Fatal("new publisher is not empty")
	}
	s1 := NewSnapshot([]*Service{{Name: "a", Namespace: "b"}})
	p.Publish(s1)
	select {
	case <-ch:
	default:
		t.Fatal("publish did not close the changed channel")
	}
	if got, _ := p.Snapshot(); got != s1 {
		t.Fatal("snapshot not replaced")
	}
}
