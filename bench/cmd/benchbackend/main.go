// Command benchbackend is the application behind every bench topology:
// HTTP/1.1 and h2c with a 1 KiB body on one port, gRPC health on another,
// a TCP echo on a third. See package
// github.com/meshlite/meshlite/bench/backend.
//
//	benchbackend -http :8080,:8082 -grpc :8081 -echo :9000
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/meshlite/meshlite/bench/backend"
	"github.com/meshlite/meshlite/internal/command"
)

func main() { command.Main("benchbackend", run) }

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var (
		cfg      backend.Config
		httpList string
	)
	fs := flag.NewFlagSet("benchbackend", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&httpList, "http", ":8080", "comma-separated HTTP/1.1 and h2c addresses (empty: off)")
	fs.StringVar(&cfg.GRPCAddr, "grpc", ":8081", "gRPC health service address (empty: off)")
	fs.StringVar(&cfg.EchoAddr, "echo", ":9000", "TCP echo address (empty: off)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	for _, a := range strings.Split(httpList, ",") {
		if a = strings.TrimSpace(a); a != "" {
			cfg.HTTPAddrs = append(cfg.HTTPAddrs, a)
		}
	}
	srv, err := backend.Listen(cfg)
	if err != nil {
		return err
	}
	h, g, e := srv.Addrs()
	fmt.Fprintf(stdout, "benchbackend: http %v grpc %v echo %v\n", h, g, e)
	return srv.Serve(ctx)
}
