package command

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

func TestExitCode(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want int
	}{
		{nil, 0},
		{errors.New("listen: address in use"), 1},
		{UsageError{errors.New("bad flag")}, 2},
		{fmt.Errorf("config: %w", UsageError{errors.New("bad")}), 2},
		{flag.ErrHelp, 0},
		{UsageError{flag.ErrHelp}, 0},
	} {
		if got := ExitCode(tc.err); got != tc.want {
			t.Errorf("ExitCode(%v) = %d, want %d", tc.err, got, tc.want)
		}
	}
	if Usage(nil) != nil {
		t.Error("Usage(nil) is not nil")
	}
}

// TestParseFlags: the command line wins over the environment, positional
// arguments and bad values are usage errors naming what was wrong.
func TestParseFlags(t *testing.T) {
	newFS := func() (*flag.FlagSet, *int, *string) {
		fs := flag.NewFlagSet("x", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		return fs, fs.Int("port", 1, ""), fs.String("name", "a", "")
	}
	env := map[string]string{"X_PORT": "7", "X_NAME": "from-env"}
	fs, port, name := newFS()
	if err := ParseFlags(fs, []string{"--name", "flag"}, "X_", func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	if *port != 7 || *name != "flag" {
		t.Errorf("port %d name %q, want 7 from the environment and the flag's name", *port, *name)
	}
	for _, tc := range []struct {
		args []string
		env  map[string]string
		want string
	}{
		{[]string{"--nope"}, nil, "flag provided but not defined"},
		{[]string{"extra"}, nil, "unexpected arguments: [extra]"},
		{nil, map[string]string{"X_PORT": "many"}, "X_PORT"},
	} {
		fs, _, _ := newFS()
		err := ParseFlags(fs, tc.args, "X_", func(k string) string { return tc.env[k] })
		if ExitCode(err) != 2 || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v %v: %v (exit %d), want a usage error with %q", tc.args, tc.env, err, ExitCode(err), tc.want)
		}
	}
}

// TestStopGRPC: a call still running when the grace period ends is cut
// off, and StopGRPC returns then rather than wait for it.
func TestStopGRPC(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	healthpb.RegisterHealthServer(srv, health.NewServer())
	go srv.Serve(ln)
	conn, err := grpc.NewClient(ln.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// Watch streams until the server ends it: in flight for good.
	stream, err := healthpb.NewHealthClient(conn).Watch(context.Background(), &healthpb.HealthCheckRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Recv(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	StopGRPC(srv, 200*time.Millisecond)
	if took := time.Since(start); took < 200*time.Millisecond || took > 5*time.Second {
		t.Errorf("StopGRPC took %v with a call in flight, want about the 200 ms grace", took)
	}
	if _, err := stream.Recv(); err == nil {
		t.Error("the call in flight was not ended")
	}
}
