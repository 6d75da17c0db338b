// Package inject adds the meshlite proxy to Kubernetes workloads, and
// takes it away again. It is the pure core of `meshctl inject` and
// `meshctl uninject`, and of a future admission webhook: bytes in, bytes
// and a report out, no cluster, no files (linkerd2's pkg/inject plays the
// same part).
//
//	out, report, err := inject.Transform(manifests, inject.Options{Version: "v0.1.0"})
//	back, _, err := inject.Uninject(out) // the same objects as manifests
//
// The input is a stream of YAML or JSON documents: Pods, Deployments,
// ReplicaSets, StatefulSets, DaemonSets, Jobs, CronJobs and
// ReplicationControllers are injected, Lists are looked into, everything
// else passes through byte for byte. To a pod template inject adds the
// meshlite-init init container (iptables, NET_ADMIN and NET_RAW only),
// the meshlite-proxy sidecar (a native sidecar, or a classic one with
// Options.ClassicSidecar), a projected volume with the ServiceAccount token
// and the trust anchors, and annotations and labels; it records what it
// added in the annotation meshlite.io/inject-status, which is how Uninject
// removes exactly that. Annotations on namespaces, workloads and pod
// templates (AnnotationInject and the others) opt out or tune; see
// docs/inject.md.
package inject
