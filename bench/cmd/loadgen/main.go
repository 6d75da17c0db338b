// Command loadgen drives an HTTP/1.1, h2c, gRPC or TCP echo server at a fixed
// rate and prints latency percentiles corrected for coordinated omission.
// See package github.com/meshlite/meshlite/bench/loadgen.
//
//	loadgen -proto http1 -url http://127.0.0.1:8080/ -rate 2000 -c 16 -duration 10s -warmup 2s
package main

import "github.com/meshlite/meshlite/internal/command"

func main() { command.Main("loadgen", run) }
