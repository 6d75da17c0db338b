// Package policy translates the configuration users write into the
// traffic Policy the destination service sends proxies with a service's
// endpoints.
//
// Today the only input is a Service's annotations:
//
//	metadata:
//	  annotations:
//	    meshlite.io/balancer: least-request
//
// Istio's DestinationRule (trafficPolicy.loadBalancer) and VirtualService
// translate here too once they are read: Input grows a field for each,
// and Translate stays the one place that decides a service's policy, for
// both the embedded and the Kubernetes registry.
package policy
