// Command meshlite-proxy is meshlite's sidecar proxy. See docs/proxy.md.
package main

import (
	"context"
	"flag"
	"io"
	"os"

	"github.com/meshlite/meshlite/internal/command"
	"github.com/meshlite/meshlite/proxy/app"
)

func main() { command.Main("meshlite-proxy", run) }

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("meshlite-proxy", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg, err := app.FromCommandLine(fs, args, os.Getenv)
	if err != nil {
		return err
	}
	cfg.SetCores(os.Getenv)
	p, err := app.New(cfg, stdout, nil)
	if err != nil {
		return err
	}
	return p.Run(ctx)
}
