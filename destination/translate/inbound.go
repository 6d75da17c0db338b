package translate

import (
	"cmp"
	"slices"
	"strings"

	destinationv1 "github.com/meshlite/meshlite/internal/api/destination/v1"
)

// Inbound returns the inbound policy of a workload of namespace ns with
// labels, with Istio's semantics:
//
//   - mTLS mode: the workload's PeerAuthentication (its namespace, a
//     selector matching its labels) overrides its namespace's (no
//     selector), which overrides the mesh's (root namespace, no
//     selector); a mode left UNSET inherits; of several candidates at one
//     level the oldest applies. Port-level modes come from the workload's
//     policy.
//   - authorization: every AuthorizationPolicy of the workload's
//     namespace without a selector or with one matching its labels, and
//     every policy of the root namespace without a selector or with one
//     matching (those apply mesh-wide), DENY first, then ALLOW, then
//     AUDIT, each by name.
func (t *Table) Inbound(ns string, labels map[string]string) *destinationv1.InboundPolicy {
	out := &destinationv1.InboundPolicy{}
	if t == nil {
		return out
	}
	root := t.opts.RootNamespace
	var mesh, nsWide, workload *PeerAuthentication
	for _, pa := range t.peerAuth {
		switch {
		case pa.c.selector == nil && pa.Namespace == root && mesh == nil:
			mesh = pa
		case pa.c.selector == nil && pa.Namespace == ns && ns != root && nsWide == nil:
			nsWide = pa
		case pa.c.selector != nil && pa.Namespace == ns && workload == nil && matchesSelector(pa.c.selector, labels):
			workload = pa
		}
	}
	for _, pa := range []*PeerAuthentication{mesh, nsWide, workload} {
		if pa == nil {
			continue
		}
		if pa.c.mode != destinationv1.MTLSMode_MTLS_MODE_UNSPECIFIED {
			out.MtlsMode = pa.c.mode
		}
		out.Sources = append(out.Sources, pa.Src().Key())
	}
	if workload != nil && len(workload.c.ports) > 0 {
		out.PortMtls = make(map[uint32]destinationv1.MTLSMode, len(workload.c.ports))
		for p, m := range workload.c.ports {
			out.PortMtls[p] = m
		}
	}
	var aps []*AuthorizationPolicy
	for _, ap := range t.authz {
		if (ap.Namespace == ns || ap.Namespace == root) && (ap.c.selector == nil || matchesSelector(ap.c.selector, labels)) {
			aps = append(aps, ap)
		}
	}
	slices.SortStableFunc(aps, func(a, b *AuthorizationPolicy) int {
		return cmp.Or(cmp.Compare(actionOrder[a.c.policy.Action], actionOrder[b.c.policy.Action]),
			strings.Compare(a.c.policy.Name, b.c.policy.Name))
	})
	for _, ap := range aps {
		out.Authorization = append(out.Authorization, ap.c.policy)
		out.Sources = append(out.Sources, ap.Src().Key())
	}
	return out
}

// actionOrder is the order the proxy evaluates actions in.
var actionOrder = map[destinationv1.AuthzAction]int{
	destinationv1.AuthzAction_AUTHZ_ACTION_DENY:  0,
	destinationv1.AuthzAction_AUTHZ_ACTION_ALLOW: 1,
	destinationv1.AuthzAction_AUTHZ_ACTION_AUDIT: 2,
}
