// Command meshlite-proxy-prof is meshlite-proxy with a CPU profile, for the
// bench only: the same flags, environment variables and checks as
// proxy/cmd/meshlite-proxy (app.FromCommandLine), plus -cpuprofile FILE,
// written when the proxy exits (SIGTERM). The real proxy has no profiling
// endpoint.
//
//	meshbench -quick -cpuprofile bench/out/prof
//	go tool pprof -top bin/meshlite-proxy-prof bench/out/prof/meshlite-client.pprof
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/pprof"

	"github.com/meshlite/meshlite/internal/command"
	"github.com/meshlite/meshlite/proxy/app"
)

func main() { command.Main("meshlite-proxy-prof", run) }

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("meshlite-proxy-prof", flag.ContinueOnError)
	fs.SetOutput(stderr)
	profile := fs.String("cpuprofile", "", "write a CPU profile to this file until exit")
	cfg, err := app.FromCommandLine(fs, args, os.Getenv)
	if err != nil {
		return err
	}
	cfg.SetCores(os.Getenv)
	if *profile != "" {
		f, err := os.Create(*profile)
		if err != nil {
			return fmt.Errorf("cpuprofile: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("cpuprofile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	p, err := app.New(cfg, stdout, nil)
	if err != nil {
		return err
	}
	return p.Run(ctx)
}
