// Package redirect is meshlite-init's core: the iptables rules that send a
// pod's TCP traffic through its meshlite-proxy, and their installation,
// verification and removal with github.com/coreos/go-iptables.
//
// The plan is a pure function of Options (NewPlan): two chains of the nat
// table, MESHLITE_INBOUND (jumped to from PREROUTING) and MESHLITE_OUTPUT
// (jumped to from OUTPUT), for IPv4 and, by default, IPv6. Every rule
// carries a comment "meshlite/<purpose>", so what meshlite added is always
// recognisable. Plan.String renders it in iptables-save syntax: that is
// meshlite-init --dry-run.
//
// Running it is separate: Open finds the iptables binary of a mode (legacy
// or nft; Detect and ChooseMode resolve auto) for a family, and Apply,
// Verify and Remove work on such Targets:
//
//	plan, err := redirect.NewPlan(redirect.DefaultOptions())
//	...
//	v4, err := redirect.Open(ctx, redirect.NFT, redirect.IPv4, 10*time.Second)
//	v6, err := redirect.Open(ctx, redirect.NFT, redirect.IPv6, 10*time.Second)
//	...
//	_, err = redirect.Apply(plan, []redirect.Target{v4, v6})
//
// Apply is idempotent and all-or-nothing: rules already in place are left
// alone, and a failure rolls back every rule and chain it added. Remove
// deletes exactly the rules and chains meshlite adds. Verify names every
// difference between the rules in place and the plan. The errors
// ErrPermission, ErrLockBusy, ErrMismatch, ErrConflict and ErrNoIptables
// tell the failures apart.
package redirect
