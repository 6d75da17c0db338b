// Package destinationtest runs a real meshlite destination service inside
// a test: the embedded registry over a temporary configuration directory
// and state file (or, with Configure, any other configuration), serving
// on 127.0.0.1. The proxy's discovery tests and the destination's own use
// it.
//
//	srv := destinationtest.Start(t, destinationtest.Options{LeaseTTL: time.Second})
//	srv.WriteFile(t, "web.yaml", webService)
//	c, _ := discovery.New(discovery.Config{Addr: srv.Addr, Insecure: true})
//	srv.Restart(t) // same address, same state file
package destinationtest
