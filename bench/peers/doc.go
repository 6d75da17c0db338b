// Package peers renders the configuration of the third-party proxies the
// bench compares meshlite with — HAProxy (Debian 2.6) and nginx (Debian
// 1.22), each as a pair with mutual TLS between the two — and makes the
// throwaway CA and certificates they use.
//
// The templates are the files haproxy.cfg.tmpl and nginx.conf.tmpl beside
// this file, embedded in the binary. Rendering is pure (Params in, bytes
// out), so the configurations are checked by golden files in testdata/.
//
// Both peers get one listener per application port, selected by iptables
// REDIRECT on the destination port in each pod, and a static upstream: the
// server pod's address on the client side, 127.0.0.1 on the server side.
// nginx cannot read SO_ORIGINAL_DST at all; HAProxy could (server
// 0.0.0.0:0), but both are configured the same way so the only difference
// is the proxy.
//
//	p := peers.Params{Side: peers.Client, Threads: 2, Dir: dir, ServerName: peers.ServerName, Routes: routes}
//	cfg, err := peers.HAProxy(p)
package peers
