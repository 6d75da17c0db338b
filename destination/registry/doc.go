// Package registry is the destination service's model of the mesh: an
// immutable Snapshot of services, their ports and, per port, the endpoints
// proxies may use, published by a backend whenever something changes.
//
// Backends (the embedded file-and-registration registry, the Kubernetes
// watcher) build snapshots and hand them to a Publisher; readers take the
// current snapshot with a channel that is closed when a newer one exists:
//
//	snap, changed := src.Snapshot()
//	svc, port, ok := snap.Lookup(target, "default")
//	<-changed // then take the next snapshot
//
// Readers never see a snapshot change under them, and a slow reader simply
// skips to the latest one: updates coalesce.
package registry
