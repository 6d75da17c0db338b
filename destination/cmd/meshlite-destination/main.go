// Command meshlite-destination is meshlite's discovery service: it tells
// proxies where a service's healthy endpoints are, which identity each
// presents and which traffic policy applies, and takes workloads'
// registrations. See docs/destination.md.
package main

import (
	"context"
	"errors"
	"flag"
	"io"
	"os"

	"github.com/meshlite/meshlite/destination/app"
	"github.com/meshlite/meshlite/internal/command"
)

func main() { command.Main("meshlite-destination", run) }

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg := app.Default()
	fs := flag.NewFlagSet("meshlite-destination", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg.RegisterFlags(fs)
	if err := command.ParseFlags(fs, args, app.EnvPrefix, os.Getenv); err != nil {
		return err
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	if !given["identity-trust-domain"] {
		cfg.Identity.TrustDomain = cfg.TrustDomain
	}
	if err := cfg.Validate(); err != nil {
		return command.UsageError{Err: err}
	}
	a, err := app.New(cfg, app.Options{Log: stdout})
	if errors.Is(err, app.ErrConfig) {
		return command.UsageError{Err: err}
	}
	if err != nil {
		return err
	}
	return a.Run(ctx)
}
