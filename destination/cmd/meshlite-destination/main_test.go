package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/meshlite/meshlite/internal/command"
)

func TestRunRefusesBadConfiguration(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"unknown flag", []string{"--nope"}, "flag provided but not defined"},
		{"no identity", []string{"--config-dir", dir}, "identity-addr: required"},
		{"bad registry", []string{"--insecure", "--registry", "consul"}, "registry"},
		{"bad ttl", []string{"--insecure", "--config-dir", dir, "--lease-ttl", "0s"}, "lease-ttl"},
		{"missing directory", []string{"--insecure", "--config-dir", dir + "/missing", "--addr", "127.0.0.1:0", "--admin-addr", "127.0.0.1:0"}, "config-dir"},
		{"argument", []string{"--insecure", "extra"}, "unexpected arguments"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stderr bytes.Buffer
			err := run(context.Background(), tc.args, &bytes.Buffer{}, &stderr)
			if err == nil || command.ExitCode(err) != 2 || !strings.Contains(err.Error()+stderr.String(), tc.want) {
				t.Fatalf("err = %v (exit %d), stderr %q; want exit 2 naming %q", err, command.ExitCode(err), stderr.String(), tc.want)
			}
		})
	}
}

func TestRunServesUntilCancelled(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("MESHLITE_DESTINATION_STATE_FILE", dir+"/state/destination.db")
	ctx, cancel := context.WithCancel(context.Background())
	var stdout bytes.Buffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"--insecure", "--config-dir", dir, "--addr", "127.0.0.1:0", "--admin-addr", "127.0.0.1:0"}, &stdout, &bytes.Buffer{})
	}()
	time.Sleep(300 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("run did not stop")
	}
	if !strings.Contains(stdout.String(), dir+"/state/destination.db") || !strings.Contains(stdout.String(), "destination service stopped") {
		t.Fatalf("log: %s", stdout.String())
	}
}
