package netenv

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
)

func TestPickSubnets(t *testing.T) {
	mp := netip.MustParsePrefix
	tests := []struct {
		name         string
		plan         subnetPlan
		want4, want6 string
		wantErr      error
	}{
		{name: "first slot", plan: subnetPlan{ipv6: true}, want4: "10.201.0.0/24", want6: "fd6d:6c00::/64"},
		{name: "ipv6 off", plan: subnetPlan{}, want4: "10.201.0.0/24", want6: "invalid Prefix"},
		{
			name:  "skips slots used by host routes and live envs",
			plan:  subnetPlan{ipv6: true, used: []netip.Prefix{mp("10.201.0.0/24"), mp("10.201.1.7/32"), mp("fd6d:6c00:2::/64")}},
			want4: "10.201.3.0/24", want6: "fd6d:6c00:3::/64",
		},
		{
			name:    "explicit subnet in use",
			plan:    subnetPlan{want4: mp("10.201.5.0/24"), used: []netip.Prefix{mp("10.0.0.0/8")}},
			wantErr: ErrSubnetInUse,
		},
		{
			name:    "whole pool routed",
			plan:    subnetPlan{used: []netip.Prefix{mp("10.201.0.0/16")}},
			wantErr: ErrNoFreeSubnet,
		},
		{
			name:  "explicit v4, default v6 slot",
			plan:  subnetPlan{want4: mp("10.77.0.0/16"), ipv6: true, used: []netip.Prefix{mp("fd6d:6c00::/64")}},
			want4: "10.77.0.0/16", want6: "fd6d:6c00:1::/64",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p4, p6, err := pickSubnets(tt.plan)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if p4.String() != tt.want4 || p6.String() != tt.want6 {
				t.Fatalf("got %s %s, want %s %s", p4, p6, tt.want4, tt.want6)
			}
		})
	}
}

func TestAddressing(t *testing.T) {
	mp := netip.MustParsePrefix
	tests := []struct {
		prefix string
		n      int
		want   string
		cap    int
	}{
		{"10.201.7.0/24", 1, "10.201.7.1", 253},
		{"10.201.7.0/24", 254, "10.201.7.254", 253},
		{"10.77.0.0/16", 256, "10.77.1.0", maxPods},
		{"10.0.0.0/30", 2, "10.0.0.2", 1},
		{"fd6d:6c00:7::/64", 2, "fd6d:6c00:7::2", maxPods},
		{"fd6d:6c00:7::/120", 255, "fd6d:6c00:7::ff", 254},
	}
	for _, tt := range tests {
		t.Run(tt.prefix, func(t *testing.T) {
			if got := nthAddr(mp(tt.prefix), tt.n); got.String() != tt.want {
				t.Errorf("nthAddr(%s, %d) = %s, want %s", tt.prefix, tt.n, got, tt.want)
			}
			if got := podCapacity(mp(tt.prefix)); got != tt.cap {
				t.Errorf("podCapacity(%s) = %d, want %d", tt.prefix, got, tt.cap)
			}
		})
	}
	if got := slotPrefix6(255).String(); got != "fd6d:6c00:ff::/64" {
		t.Errorf("slotPrefix6(255) = %s", got)
	}
}

func TestParseRouteDst(t *testing.T) {
	tests := []struct {
		dst  string
		want string
		ok   bool
	}{
		{"default", "", false},
		{"10.201.3.0/24", "10.201.3.0/24", true},
		{"10.201.3.1", "10.201.3.1/32", true},
		{"fd00::2", "fd00::2/128", true},
		{"0.0.0.0/0", "", false},
		{"garbage", "", false},
	}
	for _, tt := range tests {
		p, ok := parseRouteDst(tt.dst)
		if ok != tt.ok || (ok && p.String() != tt.want) {
			t.Errorf("parseRouteDst(%q) = %v, %v; want %s, %v", tt.dst, p, ok, tt.want, tt.ok)
		}
	}
}

func TestHostsFile(t *testing.T) {
	p := &Pod{Name: "client", Addr: netip.MustParseAddr("10.201.0.2"), Addr6: netip.MustParseAddr("fd6d:6c00::2")}
	got := string(hostsFile(p, map[string]netip.Addr{
		"web.default.svc": netip.MustParseAddr("10.96.0.10"),
		"api":             netip.MustParseAddr("10.96.0.11"),
	}))
	want := "# written by meshlite netenv for pod client\n" +
		"127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n" +
		"10.201.0.2\tclient\nfd6d:6c00::2\tclient\n" +
		"10.96.0.11\tapi\n10.96.0.10\tweb.default.svc\n"
	if got != want {
		t.Errorf("hosts file:\n%s\nwant:\n%s", got, want)
	}
	// An explicit entry for the pod's own name replaces the default one.
	got = string(hostsFile(p, map[string]netip.Addr{"client": netip.MustParseAddr("10.96.0.1")}))
	if strings.Contains(got, "10.201.0.2") || !strings.Contains(got, "10.96.0.1\tclient\n") {
		t.Errorf("own name not overridden:\n%s", got)
	}
}

func TestOptionsValidation(t *testing.T) {
	mp := netip.MustParsePrefix
	tests := []struct {
		name string
		opts Options
	}{
		{"prefix too long", Options{Prefix: "toolong"}},
		{"prefix with dash", Options{Prefix: "a-b"}},
		{"v6 pod cidr as v4", Options{PodCIDR: mp("fd00::/64")}},
		{"v4 service cidr6", Options{ServiceCIDR6: mp("10.0.0.0/8")}},
		{"pod cidr too small", Options{PodCIDR: mp("10.0.0.0/31")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.opts.fill(); err == nil || !strings.HasPrefix(err.Error(), "netenv: ") {
				t.Fatalf("fill() = %v, want a netenv error", err)
			}
		})
	}
	var o Options
	if err := o.fill(); err != nil || o.Prefix != "mlt" || o.ServiceCIDR.String() != defaultServiceCIDR {
		t.Fatalf("defaults: %+v, %v", o, err)
	}
}
