// Package config reads the embedded registry's configuration: a directory
// of YAML files holding Kubernetes v1 Service documents, meshlite
// HealthCheck documents, Istio VirtualService, DestinationRule,
// PeerAuthentication and AuthorizationPolicy documents and Gateway API
// HTTPRoute documents, several per file separated by "---".
//
// Parsing is strict and every problem names its file, line and field:
//
//	web.yaml:12: spec.ports[0].port: 70000 is out of range (1-65535)
//
// Unknown fields are errors (the Service schema is Kubernetes' own, read
// from k8s.io/api's types; Istio's from istio.io/api's protobuf messages,
// Gateway API's from sigs.k8s.io/gateway-api's types); unknown kinds are
// skipped. The Istio and Gateway API resources are compiled with package
// translate as they are parsed, and cross-checked when files are merged
// (a subset a route names must be defined). Validate checks files and
// directories without side effects, for `meshctl validate` and tests;
// ParseObject checks an object read from the Kubernetes API the same way.
// A Loader follows a directory for the running service and keeps, per
// file, the last version that was good: a bad edit never replaces it.
//
// See docs/destination.md and docs/traffic-policy.md for the formats.
package config
