// Command loadgen drives an HTTP/1.1, h2c, gRPC or TCP echo server at a fixed
// rate and prints latency percentiles corrected for coordinated omission.
// See package github.com/meshlite/meshlite/bench/loadgen.
//
//	loadgen -proto http1 -url http://127.0.0.1:8080/ -rate 2000 -c 16 -duration 10s -warmup 2s
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	switch {
	case errors.Is(err, flag.ErrHelp):
		os.Exit(0)
	case err != nil:
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}
