// Command meshlite-proxy-prof is meshlite-proxy with a CPU profile, for the
// bench only: the same app package, flags and environment variables as
// proxy/cmd/meshlite-proxy, plus -cpuprofile FILE, written when the proxy
// exits (SIGTERM). The real proxy has no profiling endpoint.
//
//	meshbench -quick -cpuprofile bench/out/prof
//	go tool pprof -top bin/meshlite-proxy-prof bench/out/prof/meshlite-client.pprof
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"

	"github.com/meshlite/meshlite/internal/flagenv"
	"github.com/meshlite/meshlite/proxy/app"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "meshlite-proxy-prof:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg := app.Default()
	fs := flag.NewFlagSet("meshlite-proxy-prof", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg.RegisterFlags(fs)
	profile := fs.String("cpuprofile", "", "write a CPU profile to this file until exit")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	if err := flagenv.Apply(fs, app.EnvPrefix, os.Getenv); err != nil {
		return err
	}
	if *profile != "" {
		f, err := os.Create(*profile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	p, err := app.New(cfg, stdout, nil)
	if err != nil {
		return err
	}
	return p.Run(ctx)
}
