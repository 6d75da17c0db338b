// Package spiffe holds the SPIFFE pieces meshlite's parts share, on top of
// github.com/spiffe/go-spiffe/v2: the shape of a workload's SPIFFE ID
// (spiffe://<trust-domain>/ns/<namespace>/sa/<service-account>), the
// identity service's own ID, an atomically swappable X.509-SVID source, and
// PEM encoding of certificates and keys for the files meshlite writes.
//
// Parsing and verifying SVIDs, bundles and TLS configurations are
// go-spiffe's (x509svid, x509bundle, spiffetls/tlsconfig); this package
// does not repeat them.
//
// Build and check workload IDs with WorkloadID and ParseWorkloadID:
//
//	id, err := spiffe.WorkloadID(td, "default", "web")
//	// spiffe://example.org/ns/default/sa/web
//	ns, sa, err := spiffe.ParseWorkloadID(id)
package spiffe
