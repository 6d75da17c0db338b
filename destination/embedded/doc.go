// Package embedded is the destination service's own registry, for meshes
// without Kubernetes: services come from YAML files in a directory (see
// package config), workloads register themselves through their proxies
// (package lease), and active health checks declared per service decide
// which of them are endpoints.
//
// An endpoint of a service port is a registered workload in the
// service's namespace whose labels match the service's selector, that
// lists the port's targetPort among its ports (a named targetPort is
// looked up in the workload's port names) and, when the service has a
// HealthCheck, whose check currently passes. Without a HealthCheck a
// registered workload is healthy. The Istio and Gateway API resources of
// the directory make the services' policies and the workloads' inbound
// policies (package translate).
//
//	r, err := embedded.New(embedded.Config{Dir: dir, Lease: lease.Config{Path: state}})
//	go r.Run(ctx)
//	snap, changed := r.Snapshot()
package embedded
