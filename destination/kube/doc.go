// Package kube is the destination service's Kubernetes registry: it
// watches Services, EndpointSlices and Pods with client-go informers and
// turns them into registry snapshots.
//
// An endpoint of a service port is an address of one of the service's
// EndpointSlices (label kubernetes.io/service-name) whose port of the
// same name is TCP, and whose endpoint is ready and not terminating: the
// kubelet's readiness is the endpoint's health. The endpoint's labels are
// its pod's labels; a pod is meshed when it carries the annotation
// meshlite.io/proxy-version (added by `meshctl inject`), or always with
// Config.AllMeshed, and its identity is then
// spiffe://<trust-domain>/ns/<namespace>/sa/<service-account>.
//
// It also watches, with dynamic informers, Istio's VirtualService,
// DestinationRule, PeerAuthentication and AuthorizationPolicy and Gateway
// API's HTTPRoute, and translates them (package translate) into the
// services' policies and the workloads' inbound policies. Each object is
// checked as a file would be (package config); an update with errors is
// logged and the object's previous version stays in force. Custom
// resources that are not installed are logged once and looked for again
// periodically (Config.CRDRecheck).
//
// The RBAC it needs: get, list and watch on services and pods (core),
// endpointslices (discovery.k8s.io), virtualservices and destinationrules
// (networking.istio.io), peerauthentications and authorizationpolicies
// (security.istio.io) and httproutes (gateway.networking.k8s.io),
// cluster-wide.
package kube
