package authz_test

import (
	"fmt"

	destinationv1 "github.com/meshlite/meshlite/internal/api/destination/v1"
	"github.com/meshlite/meshlite/proxy/authz"
)

func Example() {
	pol, err := authz.Compile(&destinationv1.InboundPolicy{
		MtlsMode: destinationv1.MTLSMode_MTLS_MODE_STRICT,
		Authorization: []*destinationv1.AuthorizationPolicy{{
			Name:   "default/no-admin",
			Action: destinationv1.AuthzAction_AUTHZ_ACTION_DENY,
			Rules: []*destinationv1.AuthzRule{{
				To: []*destinationv1.AuthzRule_Operation{{Paths: []string{"/admin*"}}},
			}},
		}},
	})
	if err != nil {
		panic(err)
	}
	path, _ := authz.NormalizePath("/public/%2e%2e/admin/users")
	d := pol.Authorize(authz.Request{
		Principal: "spiffe://cluster.local/ns/default/sa/web",
		TLS:       true,
		Method:    "GET",
		Path:      path,
		Port:      8080,
	})
	fmt.Println(pol.MTLSFor(8080), path, d.Allowed, d.Policy)
	// Output: STRICT /admin/users false default/no-admin
}
