// Command benchpeer runs one side of an in-language peer pair for the
// bench: a bare io.Copy TCP relay or an httputil.ReverseProxy. See package
// github.com/meshlite/meshlite/bench/gopeer.
//
//	benchpeer -kind relay -side out -listen 127.0.0.1:4140
//	benchpeer -kind reverseproxy -side in -listen :4143
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"

	"github.com/meshlite/meshlite/bench/gopeer"
	"github.com/meshlite/meshlite/internal/command"
)

func main() { command.Main("benchpeer", run) }

type options struct {
	kind, side, listen string
}

func (o *options) validate() error {
	if o.kind != "relay" && o.kind != "reverseproxy" {
		return fmt.Errorf("-kind %q: want relay or reverseproxy", o.kind)
	}
	if o.listen == "" {
		return errors.New("-listen is required")
	}
	_, err := gopeer.ForSide(o.side)
	return err
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var o options
	fs := flag.NewFlagSet("benchpeer", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.kind, "kind", "relay", "relay or reverseproxy")
	fs.StringVar(&o.side, "side", "out", "out (forward to the original destination) or in (to the same port on 127.0.0.1)")
	fs.StringVar(&o.listen, "listen", "", "listen address, e.g. 127.0.0.1:4140 or :4143")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if err := o.validate(); err != nil {
		return err
	}
	dest, _ := gopeer.ForSide(o.side)
	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "benchpeer: %s %s on %s\n", o.kind, o.side, ln.Addr())
	if o.kind == "relay" {
		return (&gopeer.Relay{Dest: dest}).Serve(ctx, ln)
	}
	p := &gopeer.ReverseProxy{Dest: dest, H2CUpstream: o.side == "out", ErrorLog: log.New(stderr, "benchpeer: ", log.LstdFlags)}
	return p.Serve(ctx, ln)
}
