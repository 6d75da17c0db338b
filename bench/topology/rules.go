package topology

import (
	"context"
	"fmt"
	"strconv"

	"github.com/meshlite/meshlite/internal/netenv"
)

// Well-known ports and uid of a meshed pod (Linkerd's numbers).
const (
	ProxyUID     = 2102
	OutboundPort = 4140
	InboundPort  = 4143
	AdminPort    = 4191
)

// Rule is the arguments of one iptables command.
type Rule []string

// TransparentRules are a meshed pod's rules, as meshlite-init will install
// them: inbound TCP but the admin port to inbound, outbound TCP of every
// uid but the proxy's, off loopback, to outbound.
func TransparentRules(uid int, outbound, inbound, admin uint16) []Rule {
	return []Rule{
		{"-t", "nat", "-A", "PREROUTING", "-p", "tcp", "--dport", port(admin), "-j", "RETURN"},
		{"-t", "nat", "-A", "PREROUTING", "-p", "tcp", "-j", "REDIRECT", "--to-ports", port(inbound)},
		{"-t", "nat", "-A", "OUTPUT", "-p", "tcp", "-m", "owner", "--uid-owner", strconv.Itoa(uid), "-j", "RETURN"},
		{"-t", "nat", "-A", "OUTPUT", "-p", "tcp", "-o", "lo", "-j", "RETURN"},
		{"-t", "nat", "-A", "OUTPUT", "-p", "tcp", "-j", "REDIRECT", "--to-ports", port(outbound)},
	}
}

// PortMap sends one destination port to one local listener.
type PortMap struct {
	Dport, ToPort uint16
}

// OutboundPortRules are the client pod's rules for a peer with one
// listener per destination port: each mapped port of the app's outgoing
// TCP (not the proxy's, not on loopback) goes to its listener.
func OutboundPortRules(uid int, maps []PortMap) []Rule {
	rules := []Rule{
		{"-t", "nat", "-A", "OUTPUT", "-p", "tcp", "-m", "owner", "--uid-owner", strconv.Itoa(uid), "-j", "RETURN"},
		{"-t", "nat", "-A", "OUTPUT", "-p", "tcp", "-o", "lo", "-j", "RETURN"},
	}
	for _, m := range maps {
		rules = append(rules, Rule{"-t", "nat", "-A", "OUTPUT", "-p", "tcp", "--dport", port(m.Dport), "-j", "REDIRECT", "--to-ports", port(m.ToPort)})
	}
	return rules
}

// InboundPortRules are the server pod's rules for such a peer: each mapped
// port of incoming TCP goes to its listener.
func InboundPortRules(maps []PortMap) []Rule {
	var rules []Rule
	for _, m := range maps {
		rules = append(rules, Rule{"-t", "nat", "-A", "PREROUTING", "-p", "tcp", "--dport", port(m.Dport), "-j", "REDIRECT", "--to-ports", port(m.ToPort)})
	}
	return rules
}

func port(p uint16) string { return strconv.Itoa(int(p)) }

// apply runs the rules in pod, in order.
func apply(ctx context.Context, pod *netenv.Pod, rules []Rule) error {
	for _, r := range rules {
		if out, err := pod.Command(ctx, 0, "iptables", r...).CombinedOutput(); err != nil {
			return fmt.Errorf("topology: iptables %v in pod %s: %w: %s", r, pod.Name, err, out)
		}
	}
	return nil
}
