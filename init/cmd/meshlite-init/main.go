// Command meshlite-init installs, verifies or removes the iptables rules
// that send a pod's TCP traffic through meshlite-proxy. See docs/init.md.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	code := exitCode(err)
	if err != nil && code != 0 {
		fmt.Fprintln(os.Stderr, "meshlite-init:", err)
	}
	os.Exit(code)
}
