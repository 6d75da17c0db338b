// Package app assembles the identity service meshlite-identity from its
// configuration: the issuer (reloaded when its files change), the
// attestors, the service's own SVID (issued to itself and renewed in
// process), the gRPC server over TLS and the admin server. See
// docs/identity.md for the flags, ports, files and metrics.
//
//	cfg := app.Default()
//	cfg.Dir = "/etc/meshlite/identity"
//	if err := cfg.Validate(); err != nil { ... }
//	a, err := app.New(cfg, app.Options{})
//	if err != nil { ... }
//	err = a.Run(ctx) // until ctx is done; then a graceful stop
package app
