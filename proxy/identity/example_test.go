package identity_test

import (
	"context"
	"fmt"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/spiffetls/tlsconfig"

	"github.com/meshlite/meshlite/proxy/identity"
)

// A proxy gets its SVID and builds mutual TLS configurations from it.
func Example() {
	cfg := identity.Default()
	cfg.Addr = "identity.meshlite.svc.cluster.local:8080"
	cfg.TrustAnchors = "/var/run/meshlite/anchor.crt"
	cfg.Namespace, cfg.ServiceAccount = "default", "web" // from the Downward API
	c, err := identity.New(cfg)
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go c.Run(ctx) //nolint:errcheck // returns nil when ctx is done

	select {
	case <-c.Updated():
	case <-time.After(10 * time.Second):
		fmt.Println("no SVID yet; Ready() is", c.Ready())
		return
	}
	peer := spiffeid.RequireFromString("spiffe://cluster.local/ns/default/sa/db")
	_ = tlsconfig.MTLSClientConfig(c, c, tlsconfig.AuthorizeID(peer))
	_ = tlsconfig.MTLSServerConfig(c, c, tlsconfig.AuthorizeMemberOf(c.ID().TrustDomain()))
}
