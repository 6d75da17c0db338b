// Command meshlite-identity is meshlite's identity service: it signs
// short-lived SPIFFE X.509 certificates for proxies that prove who they
// are. See docs/identity.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/meshlite/meshlite/identity/app"
	"github.com/meshlite/meshlite/internal/flagenv"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "meshlite-identity:", err)
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
	fs := flag.NewFlagSet("meshlite-identity", flag.ContinueOnError)
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
	a, err := app.New(cfg, app.Options{Log: stdout})
	if err != nil {
		return err
	}
	return a.Run(ctx)
}
