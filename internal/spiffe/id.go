package spiffe

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

// Defaults for the identity service's own SPIFFE ID.
const (
	// DefaultIdentityNamespace is the namespace the identity service runs in.
	DefaultIdentityNamespace = "meshlite"
	// DefaultIdentityServiceAccount is the identity service's service account.
	DefaultIdentityServiceAccount = "identity"
)

// ErrWorkloadID is wrapped by every error about a workload ID's shape.
var ErrWorkloadID = errors.New("not a workload SPIFFE ID")

// WorkloadID returns spiffe://<td>/ns/<ns>/sa/<sa>. ns must be a DNS-1123
// label (a Kubernetes namespace name) and sa a DNS-1123 subdomain (a
// ServiceAccount name).
func WorkloadID(td spiffeid.TrustDomain, ns, sa string) (spiffeid.ID, error) {
	if td.IsZero() {
		return spiffeid.ID{}, fmt.Errorf("spiffe: %w: empty trust domain", ErrWorkloadID)
	}
	if err := checkNamespace(ns); err != nil {
		return spiffeid.ID{}, err
	}
	if err := checkServiceAccount(sa); err != nil {
		return spiffeid.ID{}, err
	}
	id, err := spiffeid.FromSegments(td, "ns", ns, "sa", sa)
	if err != nil {
		return spiffeid.ID{}, fmt.Errorf("spiffe: %w: %w", ErrWorkloadID, err)
	}
	return id, nil
}

// ParseWorkloadID returns the namespace and service account of a workload
// ID, or an error (wrapping ErrWorkloadID) saying what is wrong with its
// path. The trust domain is not checked here; see CheckWorkloadID.
func ParseWorkloadID(id spiffeid.ID) (ns, sa string, err error) {
	if id.IsZero() {
		return "", "", fmt.Errorf("spiffe: %w: empty ID", ErrWorkloadID)
	}
	p := id.Path()
	parts := strings.Split(strings.TrimPrefix(p, "/"), "/")
	if len(parts) != 4 || parts[0] != "ns" || parts[2] != "sa" {
		return "", "", fmt.Errorf("spiffe: %w: path %q is not /ns/<namespace>/sa/<service-account>", ErrWorkloadID, p)
	}
	if err := checkNamespace(parts[1]); err != nil {
		return "", "", err
	}
	if err := checkServiceAccount(parts[3]); err != nil {
		return "", "", err
	}
	return parts[1], parts[3], nil
}

// CheckWorkloadID reports whether id is a workload ID in trust domain td.
func CheckWorkloadID(id spiffeid.ID, td spiffeid.TrustDomain) error {
	if _, _, err := ParseWorkloadID(id); err != nil {
		return err
	}
	if id.TrustDomain() != td {
		return fmt.Errorf("spiffe: %w: trust domain %q, want %q", ErrWorkloadID, id.TrustDomain().Name(), td.Name())
	}
	return nil
}

// IdentityServiceID is the identity service's default SPIFFE ID in td:
// spiffe://<td>/ns/meshlite/sa/identity.
func IdentityServiceID(td spiffeid.TrustDomain) spiffeid.ID {
	id, err := WorkloadID(td, DefaultIdentityNamespace, DefaultIdentityServiceAccount)
	if err != nil {
		// Only an empty trust domain fails, and callers pass a parsed one.
		return spiffeid.ID{}
	}
	return id
}

// checkNamespace: a DNS-1123 label, 1 to 63 characters of [a-z0-9-],
// starting and ending with an alphanumeric.
func checkNamespace(ns string) error {
	if !isDNSLabel(ns) {
		return fmt.Errorf("spiffe: %w: namespace %q is not a DNS-1123 label (lower-case letters, digits and '-', at most 63)", ErrWorkloadID, ns)
	}
	return nil
}

// checkServiceAccount: a DNS-1123 subdomain, at most 253 characters of
// dot-separated labels.
func checkServiceAccount(sa string) error {
	ok := len(sa) > 0 && len(sa) <= 253
	for _, l := range strings.Split(sa, ".") {
		ok = ok && isDNSLabel(l)
	}
	if !ok {
		return fmt.Errorf("spiffe: %w: service account %q is not a DNS-1123 subdomain (lower-case letters, digits, '-' and '.', at most 253)", ErrWorkloadID, sa)
	}
	return nil
}

func isDNSLabel(s string) bool {
	if len(s) == 0 || len(s) > 63 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		alnum := c >= 'a' && c <= 'z' || c >= '0' && c <= '9'
		if !alnum && (c != '-' || i == 0 || i == len(s)-1) {
			return false
		}
	}
	return true
}
