// Package app assembles the destination service: configuration and
// flags, the registry backend (embedded or Kubernetes), the passive
// health overlay, the gRPC server (mTLS with the service's own SVID from
// the identity service, or plaintext with --insecure), the admin server
// and the metrics. cmd/meshlite-destination is a thin main over it, and
// tests run it in-process (see destinationtest).
//
//	cfg := app.Default()
//	cfg.ConfigDir, cfg.Insecure = dir, true
//	a, err := app.New(cfg, app.Options{})
//	err = a.Run(ctx) // until ctx is done
package app
