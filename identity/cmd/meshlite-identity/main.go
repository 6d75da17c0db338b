// Command meshlite-identity is meshlite's identity service: it signs
// short-lived SPIFFE X.509 certificates for proxies that prove who they
// are. See docs/identity.md.
package main

import (
	"context"
	"flag"
	"io"
	"os"

	"github.com/meshlite/meshlite/identity/app"
	"github.com/meshlite/meshlite/internal/command"
)

func main() { command.Main("meshlite-identity", run) }

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg := app.Default()
	fs := flag.NewFlagSet("meshlite-identity", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg.RegisterFlags(fs)
	if err := command.ParseFlags(fs, args, app.EnvPrefix, os.Getenv); err != nil {
		return err
	}
	if err := cfg.Validate(); err != nil {
		return command.UsageError{Err: err}
	}
	a, err := app.New(cfg, app.Options{Log: stdout})
	if err != nil {
		return err
	}
	return a.Run(ctx)
}
