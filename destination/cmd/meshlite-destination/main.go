// Command meshlite-destination is meshlite's discovery service: it tells
// proxies where a service's healthy endpoints are, which identity each
// presents and which traffic policy applies, and takes workloads'
// registrations. See docs/destination.md.
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

	"github.com/meshlite/meshlite/destination/app"
	"github.com/meshlite/meshlite/internal/flagenv"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "meshlite-destination:", err)
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
	fs := flag.NewFlagSet("meshlite-destination", flag.ContinueOnError)
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
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	if !given["identity-trust-domain"] {
		cfg.Identity.TrustDomain = cfg.TrustDomain
	}
	if err := cfg.Validate(); err != nil {
		return usageError{err}
	}
	a, err := app.New(cfg, app.Options{Log: stdout})
	if errors.Is(err, app.ErrConfig) {
		return usageError{err}
	}
	if err != nil {
		return err
	}
	return a.Run(ctx)
}
