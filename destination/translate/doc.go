// Package translate turns the traffic and security configuration users
// write — Istio's VirtualService, DestinationRule, PeerAuthentication and
// AuthorizationPolicy, and Gateway API's HTTPRoute attached to a Service
// (GAMMA) — into meshlite's own compact tables: a destinationv1.Policy
// per service (routes, subsets, balancer, outlier detection, connection
// pool) and a destinationv1.InboundPolicy per workload (mTLS mode and
// authorization rules).
//
// It is pure: parsed resources (the upstream types from istio.io/api and
// sigs.k8s.io/gateway-api, parsed by package config from files or from
// the Kubernetes API) in, tables and problems out. Nothing here reads a
// file or the network.
//
// Translation has two steps:
//
//  1. Compile checks one resource on its own, exactly once, and keeps its
//     compiled form: regexes are compiled (RE2), durations and weights
//     checked, and every field meshlite does not implement is a problem
//     naming the field. A resource with problems must not be used.
//  2. Build puts compiled resources together: it resolves conflicts (two
//     VirtualServices for one host), checks references (a subset no
//     DestinationRule defines) and makes the Table the destination
//     service serves from.
//
// In code:
//
//	set := &translate.Set{}
//	for _, r := range resources {
//		if probs := translate.Compile(r, opts); len(probs.Errors()) == 0 {
//			set.Add(r)
//		}
//	}
//	table, problems := translate.Build(set, opts, known)
//	policy := table.Policy("reviews.default", base)
//	inbound := table.Inbound("default", map[string]string{"app": "reviews"})
//
// Problems name the resource's field by its path in the document
// ("spec.http[0].route[1].weight"); package config turns paths into file
// lines. See docs/traffic-policy.md for what is accepted and how it maps.
package translate
