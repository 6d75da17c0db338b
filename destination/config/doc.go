// Package config reads the embedded registry's configuration: a directory
// of YAML files holding Kubernetes v1 Service documents and meshlite
// HealthCheck documents (and, in later versions, Istio kinds), several per
// file separated by "---".
//
// Parsing is strict and every problem names its file, line and field:
//
//	web.yaml:12: spec.ports[0].port: 70000 is out of range (1-65535)
//
// Unknown fields are errors (the Service schema is Kubernetes' own, read
// from k8s.io/api's types); unknown kinds are skipped. Validate checks a
// directory without side effects, for `meshctl validate` and tests.
// A Loader follows a directory for the running service and keeps, per
// file, the last version that was good: a bad edit never replaces it.
//
// See docs/destination.md for the formats.
package config
