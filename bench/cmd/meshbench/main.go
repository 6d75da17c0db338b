// Command meshbench measures meshlite, plaintext and with mutual TLS,
// against the physical limit (no proxy) and against real peers (HAProxy
// and nginx with mTLS, a Go ReverseProxy pair, an io.Copy relay pair), all
// in network-namespace pods on this machine, in one run, and writes the
// report. It needs root.
//
//	meshbench                 # full run: bench/RESULTS.md, bench/latency.png, bench/out/
//	meshbench -quick          # direct, meshlite, meshlite-mtls, Go ReverseProxy; prints a table, writes bench/out/quick.md
//	meshbench -render         # re-render RESULTS.md and the plot from bench/out/results.json
//
// make bench and make bench-quick build the binaries it runs and install
// the tools it needs first.
package main

import "github.com/meshlite/meshlite/internal/command"

func main() { command.Main("meshbench", run) }
