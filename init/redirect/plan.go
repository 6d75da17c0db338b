package redirect

import (
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// Family is an IP family: IPv4 (iptables) or IPv6 (ip6tables).
type Family int

// The families, numbered as in "IPv4" and "IPv6".
const (
	IPv4 Family = 4
	IPv6 Family = 6
)

// String returns "IPv4" or "IPv6".
func (f Family) String() string { return "IPv" + strconv.Itoa(int(f)) }

// Command returns the family's iptables command: "iptables" or "ip6tables".
func (f Family) Command() string {
	if f == IPv6 {
		return "ip6tables"
	}
	return "iptables"
}

// has reports whether a belongs to the family.
func (f Family) has(a netip.Addr) bool { return a.Is4() == (f == IPv4) }

// Names of what meshlite owns in the nat table.
const (
	// Table is the table every rule goes into.
	Table = "nat"
	// InboundChain holds the inbound rules; PREROUTING jumps to it.
	InboundChain = "MESHLITE_INBOUND"
	// OutboundChain holds the outbound rules; OUTPUT jumps to it.
	OutboundChain = "MESHLITE_OUTPUT"
	// CommentPrefix starts the comment of every rule meshlite adds, so
	// that Verify and Remove recognise them.
	CommentPrefix = "meshlite/"
)

// ownChains are the chains meshlite creates, in creation order.
var ownChains = []string{InboundChain, OutboundChain}

// maxMultiport is the most ports one multiport match takes; a range counts
// as two (xt_multiport's XT_MULTI_PORTS).
const maxMultiport = 15

// Rule is one rule appended to a chain of the nat table.
type Rule struct {
	// Chain is the chain the rule is appended to.
	Chain string
	// Spec is the rule without "-A <chain>", in the canonical order
	// iptables -S prints (-s, -d, -o, -p, matches, comment, -j), so the
	// plan compares equal to what is read back.
	Spec []string
}

// String renders the rule in iptables-save syntax: "-A CHAIN spec", with
// the comment quoted as iptables-save quotes it.
func (r Rule) String() string {
	var b strings.Builder
	b.WriteString("-A ")
	b.WriteString(r.Chain)
	for i, a := range r.Spec {
		b.WriteByte(' ')
		if i > 0 && r.Spec[i-1] == "--comment" {
			b.WriteString(quote(a))
		} else {
			b.WriteString(a)
		}
	}
	return b.String()
}

// Purpose returns what the comment says after "meshlite/", or "" when the
// rule is not meshlite's.
func (r Rule) Purpose() string {
	p, ok := strings.CutPrefix(r.comment(), CommentPrefix)
	if !ok {
		return ""
	}
	return p
}

// comment returns the value of the rule's comment match.
func (r Rule) comment() string {
	for i := 0; i+1 < len(r.Spec); i++ {
		if r.Spec[i] == "--comment" {
			return r.Spec[i+1]
		}
	}
	return ""
}

// equal reports whether r and s are the same rule.
func (r Rule) equal(s Rule) bool {
	return r.Chain == s.Chain && slices.Equal(r.Spec, s.Spec)
}

// FamilyPlan is what one family gets: chains created and rules appended,
// in this order.
type FamilyPlan struct {
	Family Family
	// Chains are created first.
	Chains []string
	// Rules are appended in order: the chains' own rules, then the jumps
	// from PREROUTING and OUTPUT, so that nothing is redirected before the
	// chains are complete.
	Rules []Rule
}

// Plan is every rule meshlite-init installs, per family.
type Plan struct {
	Families []FamilyPlan
}

// NewPlan validates o and returns its plan. It is a pure function of o.
func NewPlan(o Options) (Plan, error) {
	if err := o.Validate(); err != nil {
		return Plan{}, err
	}
	p := Plan{Families: []FamilyPlan{familyPlan(o, IPv4)}}
	if o.IPv6 {
		p.Families = append(p.Families, familyPlan(o, IPv6))
	}
	return p, nil
}

// Family returns the plan of f and whether the plan has one.
func (p Plan) Family(f Family) (FamilyPlan, bool) {
	for _, fp := range p.Families {
		if fp.Family == f {
			return fp, true
		}
	}
	return FamilyPlan{}, false
}

// String renders the plan in iptables-save syntax, one "*nat ... COMMIT"
// block per family headed by a comment naming the command. Each block can
// be fed to "<command>-restore --noflush".
func (p Plan) String() string {
	var b strings.Builder
	for _, fp := range p.Families {
		b.WriteString("# meshlite-init plan for " + fp.Family.Command() + " (" + fp.Family.String() + ")\n")
		b.WriteString("*" + Table + "\n")
		for _, c := range fp.Chains {
			b.WriteString(":" + c + " - [0:0]\n")
		}
		for _, r := range fp.Rules {
			b.WriteString(r.String() + "\n")
		}
		b.WriteString("COMMIT\n")
	}
	return b.String()
}

// familyPlan builds the rules of one family. Order matters, first match
// wins:
//
// MESHLITE_INBOUND: ignored destination ports, ignored source subnets
// RETURN; everything else REDIRECT to the inbound port.
//
// MESHLITE_OUTPUT: the proxy's uid (and gid) RETURN first, so the proxy's
// own connections never loop back into it; ignored ports and destination
// subnets RETURN; connections over lo to one of the pod's own service
// addresses REDIRECT to the outbound port; any other loopback traffic
// (127.0.0.1, ::1, the pod's own address) RETURN; everything else REDIRECT
// to the outbound port.
func familyPlan(o Options, f Family) FamilyPlan {
	in, out := strconv.Itoa(o.InboundPort), strconv.Itoa(o.OutboundPort)
	var rules []Rule
	add := func(chain, purpose string, s spec) { rules = append(rules, s.rule(chain, purpose)) }

	for _, ports := range chunkPorts(o.InboundPortsToIgnore) {
		add(InboundChain, "inbound-ignore-port", spec{matches: multiport(ports), target: []string{"RETURN"}})
	}
	for _, p := range o.SubnetsToIgnore {
		if f.has(p.Addr()) {
			add(InboundChain, "inbound-ignore-subnet", spec{src: p, target: []string{"RETURN"}})
		}
	}
	add(InboundChain, "inbound-redirect", spec{target: []string{"REDIRECT", "--to-ports", in}})

	add(OutboundChain, "outbound-ignore-proxy-uid", spec{
		matches: []string{"-m", "owner", "--uid-owner", strconv.Itoa(o.ProxyUID)}, target: []string{"RETURN"}})
	if o.ProxyGID >= 0 {
		add(OutboundChain, "outbound-ignore-proxy-gid", spec{
			matches: []string{"-m", "owner", "--gid-owner", strconv.Itoa(o.ProxyGID)}, target: []string{"RETURN"}})
	}
	for _, ports := range chunkPorts(o.OutboundPortsToIgnore) {
		add(OutboundChain, "outbound-ignore-port", spec{matches: multiport(ports), target: []string{"RETURN"}})
	}
	for _, p := range o.OutboundSubnetsToIgnore {
		if f.has(p.Addr()) {
			add(OutboundChain, "outbound-ignore-subnet", spec{dst: p, target: []string{"RETURN"}})
		}
	}
	for _, a := range o.PodServiceAddresses {
		if f.has(a) {
			add(OutboundChain, "outbound-redirect-own-service", spec{
				dst: netip.PrefixFrom(a, a.BitLen()), out: "lo", target: []string{"REDIRECT", "--to-ports", out}})
		}
	}
	add(OutboundChain, "outbound-ignore-loopback", spec{out: "lo", target: []string{"RETURN"}})
	add(OutboundChain, "outbound-redirect", spec{target: []string{"REDIRECT", "--to-ports", out}})

	add("PREROUTING", "inbound-jump", spec{target: []string{InboundChain}})
	add("OUTPUT", "outbound-jump", spec{target: []string{OutboundChain}})
	return FamilyPlan{Family: f, Chains: ownChains, Rules: rules}
}

// spec is a TCP rule before rendering.
type spec struct {
	src, dst netip.Prefix // -s, -d when valid
	out      string       // -o when set
	matches  []string     // after -p tcp
	target   []string     // after -j
}

// rule renders s in iptables' canonical order with the purpose's comment.
func (s spec) rule(chain, purpose string) Rule {
	var a []string
	if s.src.IsValid() {
		a = append(a, "-s", s.src.String())
	}
	if s.dst.IsValid() {
		a = append(a, "-d", s.dst.String())
	}
	if s.out != "" {
		a = append(a, "-o", s.out)
	}
	a = append(a, "-p", "tcp")
	a = append(a, s.matches...)
	a = append(a, "-m", "comment", "--comment", CommentPrefix+purpose, "-j")
	a = append(a, s.target...)
	return Rule{Chain: chain, Spec: a}
}

// multiport is the match for a chunk of ports.
func multiport(ports []PortRange) []string {
	s := make([]string, len(ports))
	for i, r := range ports {
		s[i] = r.multiport()
	}
	return []string{"-m", "multiport", "--dports", strings.Join(s, ",")}
}

// chunkPorts splits ports, in order, into chunks one multiport match
// takes: at most 15 ports, a range counting as two.
func chunkPorts(ports Ports) [][]PortRange {
	var chunks [][]PortRange
	var cur []PortRange
	weight := 0
	for _, r := range ports {
		if weight+r.weight() > maxMultiport {
			chunks = append(chunks, cur)
			cur, weight = nil, 0
		}
		cur = append(cur, r)
		weight += r.weight()
	}
	if len(cur) > 0 {
		chunks = append(chunks, cur)
	}
	return chunks
}
