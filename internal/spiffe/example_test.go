package spiffe_test

import (
	"fmt"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/meshlite/meshlite/internal/spiffe"
)

func ExampleWorkloadID() {
	td := spiffeid.RequireTrustDomainFromString("example.org")
	id, _ := spiffe.WorkloadID(td, "default", "web")
	ns, sa, _ := spiffe.ParseWorkloadID(id)
	fmt.Println(id, ns, sa)
	fmt.Println(spiffe.IdentityServiceID(td))
	// Output:
	// spiffe://example.org/ns/default/sa/web default web
	// spiffe://example.org/ns/meshlite/sa/identity
}
