// Package backend is the application every bench topology calls: one
// process serving HTTP/1.1 and h2c on one port (a fixed 1 KiB body), gRPC
// (the standard health service) on another, and a TCP echo on a third.
// Every topology runs the same backend, so what differs between them is the
// path in front of it.
//
//	srv, err := backend.Listen(backend.Config{HTTPAddrs: []string{":8080"}, GRPCAddr: ":8081", EchoAddr: ":9000"})
//	if err != nil { ... }
//	err = srv.Serve(ctx) // until ctx ends
package backend
