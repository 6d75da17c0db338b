package redirect

import (
	"flag"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func mustPrefix(s string) netip.Prefix { return netip.MustParsePrefix(s) }
func mustAddr(s string) netip.Addr     { return netip.MustParseAddr(s) }

// TestPlanGolden pins the plan of a few option sets to
// testdata/<name>.golden (go test -update rewrites them).
func TestPlanGolden(t *testing.T) {
	many := DefaultOptions()
	many.IPv6 = false
	for p := uint16(1000); p < 1020; p++ {
		many.InboundPortsToIgnore = append(many.InboundPortsToIgnore, PortRange{p, p})
	}
	many.OutboundPortsToIgnore = Ports{{1, 1}, {2, 3}, {4, 5}, {6, 7}, {8, 9}, {10, 11}, {12, 13}, {14, 15}, {16, 17}}
	custom := DefaultOptions()
	custom.ProxyUID, custom.InboundPort, custom.OutboundPort = 1337, 15006, 15001
	custom.InboundPortsToIgnore = Ports{{15020, 15021}, {15090, 15090}}
	tests := []struct {
		name string
		opts Options
	}{
		{"defaults", DefaultOptions()},
		{"full", fullOptions()},
		{"many-ports-ipv4", many},
		{"custom-ports", custom},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := mustPlan(t, tt.opts)
			got := p.String()
			golden := filepath.Join("testdata", tt.name+".golden")
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if got != string(want) {
				t.Errorf("plan differs from %s (go test -update rewrites it):\n%s", golden, got)
			}
			// Every rule reads back as itself: the plan is in the form
			// iptables -S prints, and carries meshlite's comment.
			for _, fp := range p.Families {
				for _, r := range fp.Rules {
					back, err := parseRule(r.String())
					if err != nil || !back.equal(r) {
						t.Errorf("%s does not read back: %v %v", r, back, err)
					}
					if r.Purpose() == "" {
						t.Errorf("%s has no meshlite comment", r)
					}
				}
			}
		})
	}
}

func TestPlanOrder(t *testing.T) {
	p := mustPlan(t, fullOptions())
	for _, fp := range p.Families {
		var purposes []string
		for _, r := range fp.Rules {
			if r.Chain == OutboundChain {
				purposes = append(purposes, r.Purpose())
			}
		}
		got := strings.Join(purposes, " ")
		want := "outbound-ignore-proxy-uid outbound-ignore-proxy-gid outbound-ignore-port outbound-ignore-subnet " +
			"outbound-redirect-own-service outbound-ignore-loopback outbound-redirect"
		if got != want {
			t.Errorf("%s outbound order:\n %s\nwant\n %s", fp.Family, got, want)
		}
		// The jumps come last, once the chains are complete.
		n := len(fp.Rules)
		if fp.Rules[n-2].Chain != "PREROUTING" || fp.Rules[n-1].Chain != "OUTPUT" {
			t.Errorf("%s: jumps are not last", fp.Family)
		}
	}
}

// TestPlanFamilies: addresses and subnets go to their family's rules only.
func TestPlanFamilies(t *testing.T) {
	p := mustPlan(t, fullOptions())
	for _, fp := range p.Families {
		for _, r := range fp.Rules {
			s := strings.Join(r.Spec, " ")
			v6 := strings.Contains(s, "fd00:") || strings.Contains(s, "fd6d:")
			v4 := strings.Contains(s, "10.1.0.0") || strings.Contains(s, "169.254") || strings.Contains(s, "10.96.")
			if (fp.Family == IPv4 && v6) || (fp.Family == IPv6 && v4) {
				t.Errorf("%s plan has %s", fp.Family, r)
			}
		}
	}
	o := fullOptions()
	o.IPv6 = false
	p = mustPlan(t, o)
	if len(p.Families) != 1 || p.Families[0].Family != IPv4 {
		t.Errorf("--ipv6=false: families %v", p.Families)
	}
	if _, ok := p.Family(IPv6); ok {
		t.Error("Family(IPv6) found with IPv6 off")
	}
}

func TestChunkPorts(t *testing.T) {
	single := func(from, n int) Ports {
		var p Ports
		for i := range n {
			v := uint16(from + i)
			p = append(p, PortRange{v, v})
		}
		return p
	}
	tests := []struct {
		name  string
		ports Ports
		want  []string
	}{
		{"none", nil, nil},
		{"one", single(80, 1), []string{"80"}},
		{"15 singles fit", single(1, 15), []string{"1,2,3,4,5,6,7,8,9,10,11,12,13,14,15"}},
		{"16 singles split", single(1, 16), []string{"1,2,3,4,5,6,7,8,9,10,11,12,13,14,15", "16"}},
		{"7 ranges and a single fit", append(Ports{{1, 2}, {3, 4}, {5, 6}, {7, 8}, {9, 10}, {11, 12}, {13, 14}}, PortRange{15, 15}),
			[]string{"1:2,3:4,5:6,7:8,9:10,11:12,13:14,15"}},
		{"8 ranges split", Ports{{1, 2}, {3, 4}, {5, 6}, {7, 8}, {9, 10}, {11, 12}, {13, 14}, {15, 16}},
			[]string{"1:2,3:4,5:6,7:8,9:10,11:12,13:14", "15:16"}},
		{"a range does not straddle", append(single(1, 14), PortRange{100, 200}, PortRange{300, 300}),
			[]string{"1,2,3,4,5,6,7,8,9,10,11,12,13,14", "100:200,300"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, c := range chunkPorts(tt.ports) {
				weight := 0
				for _, r := range c {
					weight += r.weight()
				}
				if weight > maxMultiport {
					t.Errorf("chunk %v weighs %d", c, weight)
				}
				got = append(got, multiport(c)[3])
			}
			if strings.Join(got, " ") != strings.Join(tt.want, " ") {
				t.Errorf("chunks %q, want %q", got, tt.want)
			}
		})
	}
}

func TestQuoteAndSplit(t *testing.T) {
	tests := []struct{ in, quoted string }{
		{"RETURN", "RETURN"},
		{"a_b-9", "a_b-9"},
		{"meshlite/outbound-redirect", `"meshlite/outbound-redirect"`},
		{"two words", `"two words"`},
		{`say "hi"\ it's`, `"say \"hi\"\\ it\'s"`},
		{"", `""`},
	}
	for _, tt := range tests {
		if got := quote(tt.in); got != tt.quoted {
			t.Errorf("quote(%q) = %s, want %s", tt.in, got, tt.quoted)
		}
		args, err := splitArgs("-m comment --comment " + tt.quoted + " -j RETURN")
		if err != nil || len(args) != 6 || args[3] != tt.in {
			t.Errorf("splitArgs of %s = %q, %v", tt.quoted, args, err)
		}
	}
	if _, err := splitArgs(`-m comment --comment "open`); err == nil {
		t.Error("unterminated quote accepted")
	}
	for _, bad := range []string{"-P OUTPUT ACCEPT", "-A", ""} {
		if _, err := parseRule(bad); err == nil {
			t.Errorf("parseRule(%q) accepted", bad)
		}
	}
}

// FuzzSplitArgs: whatever iptables prints, splitting never panics, and a
// quoted argument always reads back as itself.
func FuzzSplitArgs(f *testing.F) {
	f.Add(`-A OUTPUT -p tcp -m comment --comment "meshlite/x" -j RETURN`, "a b")
	f.Add(`-A X -m comment --comment "a\"b\\c" -j Y`, `"\'`)
	f.Fuzz(func(t *testing.T, line, arg string) {
		_, _ = splitArgs(line)
		if strings.ContainsRune(arg, 0) {
			return
		}
		args, err := splitArgs("--comment " + quote(arg))
		if err != nil || len(args) != 2 || args[1] != arg {
			t.Fatalf("quote(%q) = %s reads back as %q, %v", arg, quote(arg), args, err)
		}
	})
}
