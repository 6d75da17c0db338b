// Package topology builds the ways a bench client reaches the backend, each
// in its own pair of network-namespace pods (package internal/netenv): a
// client pod, where the load generator runs, and a server pod, where the
// backend runs. A Topology installs its iptables rules and starts its
// proxies in the two pods and returns the processes to measure.
//
//	direct          client → backend
//	meshlite        client → meshlite-proxy → meshlite-proxy → backend (plaintext)
//	meshlite-mtls   client → meshlite-proxy → (mTLS, identities from meshlite-identity) → meshlite-proxy → backend
//	haproxy-mtls    client → HAProxy → (mTLS, HTTP/2) → HAProxy → backend
//	nginx-mtls      client → nginx → (mTLS) → nginx → backend
//	go-reverseproxy client → httputil.ReverseProxy → (h2c) → ReverseProxy → backend
//	tcp-relay       client → io.Copy relay → io.Copy relay → backend
//
// The client always dials the server pod's address and the application
// port; iptables in the pods sends the connection through the proxies.
// meshlite and the Go peers are transparent (one outbound and one inbound
// listener, SO_ORIGINAL_DST); HAProxy and nginx get one listener per
// application port, chosen by iptables on the destination port, with a
// static upstream (see package bench/peers).
//
// meshlite-mtls also gets a third pod, Pair.Control, where meshlite-identity
// runs with a trust domain made for the run; it is outside the traffic path
// and not measured. Its Verify checks, from the proxies' metrics, that the
// smoke requests crossed between the pods over mutual TLS only.
//
// The rule sets are pure functions (TransparentRules, PortRules), so tests
// check them without root.
package topology
