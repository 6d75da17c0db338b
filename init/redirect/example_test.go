package redirect_test

import (
	"fmt"

	"github.com/meshlite/meshlite/init/redirect"
)

// The plan is a pure function of the options: this is what
// meshlite-init --dry-run --ipv6=false --outbound-ports-to-ignore=5432 prints.
func ExampleNewPlan() {
	o := redirect.DefaultOptions()
	o.IPv6 = false
	o.OutboundPortsToIgnore = redirect.Ports{{First: 5432, Last: 5432}}
	plan, err := redirect.NewPlan(o)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Print(plan)
	// Output:
	// # meshlite-init plan for iptables (IPv4)
	// *nat
	// :MESHLITE_INBOUND - [0:0]
	// :MESHLITE_OUTPUT - [0:0]
	// -A MESHLITE_INBOUND -p tcp -m multiport --dports 4191 -m comment --comment "meshlite/inbound-ignore-port" -j RETURN
	// -A MESHLITE_INBOUND -p tcp -m comment --comment "meshlite/inbound-redirect" -j REDIRECT --to-ports 4143
	// -A MESHLITE_OUTPUT -p tcp -m owner --uid-owner 2102 -m comment --comment "meshlite/outbound-ignore-proxy-uid" -j RETURN
	// -A MESHLITE_OUTPUT -p tcp -m multiport --dports 5432 -m comment --comment "meshlite/outbound-ignore-port" -j RETURN
	// -A MESHLITE_OUTPUT -o lo -p tcp -m comment --comment "meshlite/outbound-ignore-loopback" -j RETURN
	// -A MESHLITE_OUTPUT -p tcp -m comment --comment "meshlite/outbound-redirect" -j REDIRECT --to-ports 4140
	// -A PREROUTING -p tcp -m comment --comment "meshlite/inbound-jump" -j MESHLITE_INBOUND
	// -A OUTPUT -p tcp -m comment --comment "meshlite/outbound-jump" -j MESHLITE_OUTPUT
	// COMMIT
}
