package redirect

import (
	"strings"
	"testing"
)

// TestFlagValues: every list flag names the bad value; good lists parse,
// drop empty and repeated items, and print back.
func TestFlagValues(t *testing.T) {
	type value interface {
		Set(string) error
		String() string
	}
	tests := []struct {
		name    string
		v       value
		in      string
		want    string // String after Set, or a part of the error
		wantErr bool
	}{
		{"ports", new(Ports), "4191, 5000-5010,,4191", "4191,5000-5010", false},
		{"ports empty", new(Ports), "", "", false},
		{"port zero", new(Ports), "0", `"0" is not a port`, true},
		{"port too big", new(Ports), "65536", `"65536" is not a port`, true},
		{"port word", new(Ports), "http", `"http" is not a port`, true},
		{"range reversed", new(Ports), "10-5", `"10-5" is not a port range`, true},
		{"range open", new(Ports), "10-", `"10-"`, true},
		{"range bad end", new(Ports), "1-70000", `"70000" is not a port`, true},
		{"range of three", new(Ports), "1-2-3", `"1-2-3"`, true},
		{"prefixes", new(Prefixes), "10.1.2.3/8,fd00::1/8,192.168.1.1", "10.0.0.0/8,fd00::/8,192.168.1.1/32", false},
		{"prefix bad", new(Prefixes), "10.0.0.0/33", `"10.0.0.0/33" is not a CIDR`, true},
		{"prefix word", new(Prefixes), "kube", `"kube" is not an IP address`, true},
		{"prefix mapped", new(Prefixes), "::ffff:10.0.0.0/104", "IPv4-mapped", true},
		{"addrs", new(Addrs), "10.96.0.20,fd6d:6c00:ffff::20", "10.96.0.20,fd6d:6c00:ffff::20", false},
		{"addr prefix", new(Addrs), "10.96.0.0/16", `"10.96.0.0/16" is not an IP address`, true},
		{"addr zone", new(Addrs), "fe80::1%eth0", `is not an IP address`, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.v.Set(tt.in)
			if tt.wantErr {
				if err == nil || !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("Set(%q) = %v, want an error with %q", tt.in, err, tt.want)
				}
				return
			}
			if err != nil || tt.v.String() != tt.want {
				t.Fatalf("Set(%q): %q, %v; want %q", tt.in, tt.v.String(), err, tt.want)
			}
		})
	}
}

// TestValidate: each error names the flag and the bad value.
func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		set  func(o *Options)
		want string
	}{
		{"uid negative", func(o *Options) { o.ProxyUID = -1 }, "--proxy-uid: -1 is not a uid"},
		{"uid too big", func(o *Options) { o.ProxyUID = 1 << 32 }, "--proxy-uid: 4294967296"},
		{"gid", func(o *Options) { o.ProxyGID = -2 }, "--proxy-gid: -2 is not a gid"},
		{"inbound port", func(o *Options) { o.InboundPort = 0 }, "--inbound-port: 0 is not a port"},
		{"outbound port", func(o *Options) { o.OutboundPort = 65536 }, "--outbound-port: 65536 is not a port"},
		{"same ports", func(o *Options) { o.OutboundPort = o.InboundPort }, "--inbound-port and --outbound-port are both 4143"},
		{"ignored range", func(o *Options) { o.OutboundPortsToIgnore = Ports{{9, 3}} }, `--outbound-ports-to-ignore: "9-3"`},
		{"ignored port 0", func(o *Options) { o.InboundPortsToIgnore = Ports{{0, 0}} }, `--inbound-ports-to-ignore: "0"`},
		{"subnet", func(o *Options) { o.SubnetsToIgnore = Prefixes{{}} }, "--subnets-to-ignore: "},
		{"outbound subnet", func(o *Options) { o.OutboundSubnetsToIgnore = Prefixes{{}} }, "--outbound-subnets-to-ignore: "},
		{"loopback service", func(o *Options) { o.PodServiceAddresses = Addrs{mustAddr("127.0.0.1")} }, "--pod-service-addresses: 127.0.0.1 is a loopback"},
		{"v6 loopback service", func(o *Options) { o.PodServiceAddresses = Addrs{mustAddr("::1")} }, "--pod-service-addresses: ::1 is a loopback"},
		{"unspecified service", func(o *Options) { o.PodServiceAddresses = Addrs{mustAddr("0.0.0.0")} }, "--pod-service-addresses: 0.0.0.0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := DefaultOptions()
			tt.set(&o)
			if err := o.Validate(); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Validate() = %v, want %q", err, tt.want)
			}
			if _, err := NewPlan(o); err == nil {
				t.Fatal("NewPlan accepted invalid options")
			}
		})
	}
	o := DefaultOptions()
	o.ProxyUID, o.InboundPort, o.OutboundPort = -5, 0, 0
	err := o.Validate()
	if err == nil || strings.Count(err.Error(), "\n") < 2 {
		t.Fatalf("Validate() = %v, want every problem at once", err)
	}
}
