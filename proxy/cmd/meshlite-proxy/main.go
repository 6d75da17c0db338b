// Command meshlite-proxy is meshlite's sidecar proxy. See docs/proxy.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"syscall"

	"github.com/meshlite/meshlite/internal/flagenv"
	"github.com/meshlite/meshlite/proxy/app"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "meshlite-proxy:", err)
		}
		os.Exit(exitCode(err))
	}
}

// exitCode: 2 for bad usage or configuration, 1 for anything else.
func exitCode(err error) int {
	var u usageError
	if errors.As(err, &u) || errors.Is(err, flag.ErrHelp) {
		return 2
	}
	return 1
}

type usageError struct{ error }

func (u usageError) Unwrap() error { return u.error }

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg := app.Default()
	fs := flag.NewFlagSet("meshlite-proxy", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg.RegisterFlags(fs)
	if err := fs.Parse(args); err != nil {
		return usageError{err}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("unexpected arguments: %v", fs.Args())}
	}
	if err := flagenv.Apply(fs, app.EnvPrefix, os.Getenv); err != nil {
		return usageError{err}
	}
	if err := cfg.Validate(); err != nil {
		return usageError{err}
	}
	// The proxy's threads: --cores, unless GOMAXPROCS says otherwise.
	if os.Getenv("GOMAXPROCS") == "" && cfg.Cores > 0 {
		runtime.GOMAXPROCS(cfg.Cores)
	}
	p, err := app.New(cfg, stdout, nil)
	if err != nil {
		return err
	}
	return p.Run(ctx)
}
