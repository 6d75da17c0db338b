// Package command is what meshlite's long-running programs
// (meshlite-proxy, meshlite-identity, meshlite-destination) share around
// their body: flags then MESHLITE_* environment variables, usage errors
// that exit 2, a context that SIGTERM or an interrupt cancels, and a gRPC
// server's stop within a grace period.
package command

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"google.golang.org/grpc"

	"github.com/meshlite/meshlite/internal/flagenv"
)

// Run is a program's body: it reads args, writes to stdout and stderr and
// returns when ctx ends or it fails.
type Run func(ctx context.Context, args []string, stdout, stderr io.Writer) error

// Main runs run with the process's arguments and standard streams, under a
// context cancelled by SIGTERM or an interrupt. A failure is printed as
// "name: error" on stderr and the process exits with ExitCode; -h prints
// the flags and exits 0.
func Main(name string, run Run) {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	code := ExitCode(err)
	if code != 0 {
		fmt.Fprintln(os.Stderr, name+":", err)
	}
	os.Exit(code)
}

// UsageError marks a failure of the flags, the environment or the
// configuration they make: the program exits 2.
type UsageError struct{ Err error }

func (u UsageError) Error() string { return u.Err.Error() }
func (u UsageError) Unwrap() error { return u.Err }

// Usage returns err as a UsageError; nil stays nil.
func Usage(err error) error {
	if err == nil {
		return nil
	}
	return UsageError{err}
}

// ExitCode is 0 for nil and for flag.ErrHelp (help was asked for and
// printed, as Go's flag package exits), 2 for a UsageError, 1 otherwise.
func ExitCode(err error) int {
	var u UsageError
	switch {
	case err == nil || errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &u):
		return 2
	}
	return 1
}

// ParseFlags parses args into fs, refuses positional arguments, then sets
// each flag not given on the command line from its environment variable
// (flagenv.Apply with envPrefix, e.g. "MESHLITE_PROXY_"). Every error it returns is a UsageError.
func ParseFlags(fs *flag.FlagSet, args []string, envPrefix string, getenv func(string) string) error {
	if err := fs.Parse(args); err != nil {
		return UsageError{err}
	}
	if fs.NArg() > 0 {
		return UsageError{fmt.Errorf("unexpected arguments: %v", fs.Args())}
	}
	return Usage(flagenv.Apply(fs, envPrefix, getenv))
}

// StopGRPC stops s gracefully, letting in-flight calls finish for at most
// grace, then closes what is left.
func StopGRPC(s *grpc.Server, grace time.Duration) {
	done := make(chan struct{})
	go func() {
		s.GracefulStop()
		close(done)
	}()
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		s.Stop()
		<-done
	}
}
