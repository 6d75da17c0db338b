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
// Istio's and Gateway API's resources are translated by package
// translate; its Table.Policy takes this package's policy as the base (a
// DestinationRule's load balancer wins over the annotation).
package policy
