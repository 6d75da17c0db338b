// Command meshlite-demo-app runs one of the demo's applications:
//
//	meshlite-demo-app web   --listen :8080 --users user-service:9090 --cache cache:7777
//	meshlite-demo-app users --listen :9090 --version v1 --replica api-v1-a
//	meshlite-demo-app cache --listen :7777
//	meshlite-demo-app load  --target http://web:8080 --rate 20
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/meshlite/meshlite/internal/command"
	"github.com/meshlite/meshlite/internal/demo/apps"
)

func main() { command.Main("meshlite-demo-app", run) }

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New("usage: meshlite-demo-app web|users|cache|load [flags]")
	}
	fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "", "address to serve on")
	usersAddr := fs.String("users", "user-service:9090", "web: the user service")
	cacheAddr := fs.String("cache", "cache:7777", "web: the cache")
	version := fs.String("version", "v1", "users: version label")
	replica := fs.String("replica", "", "users: replica name")
	target := fs.String("target", "http://web:8080", "load: web's base URL")
	rate := fs.Float64("rate", 20, "load: requests per second")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	switch args[0] {
	case "web":
		web, cc, err := apps.NewWeb(*usersAddr, *cacheAddr)
		if err != nil {
			return err
		}
		defer cc.Close()
		return serveHTTP(ctx, *listen, web.Handler())
	case "users":
		ln, err := net.Listen("tcp", *listen)
		if err != nil {
			return err
		}
		return apps.ServeUsers(ctx, ln, &apps.Users{Version: *version, Replica: *replica})
	case "cache":
		ln, err := net.Listen("tcp", *listen)
		if err != nil {
			return err
		}
		return apps.ServeCache(ctx, ln)
	case "load":
		l := &apps.Load{Base: *target, Rate: *rate}
		err := l.Run(ctx)
		fmt.Fprintf(stdout, "sent %d, failed %d\n", l.Sent.Load(), l.Fails.Load())
		return err
	}
	return fmt.Errorf("unknown app %q (want web, users, cache or load)", args[0])
}

func serveHTTP(ctx context.Context, addr string, h http.Handler) error {
	srv := &http.Server{Addr: addr, Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(sctx) //nolint:errcheck // exiting anyway
	}()
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
