package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/meshlite/meshlite/identity/identitytest"
	"github.com/meshlite/meshlite/internal/command"
	"github.com/meshlite/meshlite/internal/syncbuf"
)

func TestUsageErrors(t *testing.T) {
	dir := identitytest.NewDir(t, spiffeid.RequireTrustDomainFromString("cluster.local"))
	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
		msg  string
	}{
		{"help", []string{"-h"}, nil, ""},
		{"unknown flag", []string{"--nope"}, nil, "flag provided but not defined"},
		{"argument", []string{"--dir", dir, "extra"}, nil, "unexpected arguments"},
		{"no files", nil, nil, "trust-anchors: required"},
		{"bad attestor", []string{"--dir", dir, "--attest", "join,magic"}, nil, `unknown attestor "magic"`},
		{"bad trust domain", []string{"--dir", dir, "--trust-domain", "Bad Domain"}, nil, "trust-domain"},
		{"bad env", []string{"--dir", dir}, map[string]string{"MESHLITE_IDENTITY_LEAF_LIFETIME": "forever"}, "MESHLITE_IDENTITY_LEAF_LIFETIME"},
		{"short lifetime from env", []string{"--dir", dir}, map[string]string{"MESHLITE_IDENTITY_LEAF_LIFETIME": "10ms"}, "leaf-lifetime: must be at least 1s"},
		{"bad service account", []string{"--dir", dir, "--service-account", "Identity"}, nil, "service-namespace, service-account"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			var stderr bytes.Buffer
			err := run(context.Background(), tc.args, &bytes.Buffer{}, &stderr)
			want := 2
			if tc.name == "help" {
				want = 0 // help asked for and printed
			}
			if err == nil || command.ExitCode(err) != want {
				t.Fatalf("got %v (exit %d), want exit %d", err, command.ExitCode(err), want)
			}
			if tc.msg != "" && !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("error %q does not contain %q", err, tc.msg)
			}
			if tc.name == "help" && (!errors.Is(err, flag.ErrHelp) || !strings.Contains(stderr.String(), "-leaf-lifetime")) {
				t.Fatalf("help: %v\n%s", err, stderr.String())
			}
		})
	}
}

func TestStartFailure(t *testing.T) {
	dir := identitytest.NewDir(t, spiffeid.RequireTrustDomainFromString("example.org"))
	// The issuer names example.org; the service is told cluster.local.
	err := run(context.Background(), []string{"--dir", dir, "--addr", "127.0.0.1:0", "--admin-addr", "127.0.0.1:0"}, &bytes.Buffer{}, &bytes.Buffer{})
	if err == nil || command.ExitCode(err) != 1 || !strings.Contains(err.Error(), `not trust domain "cluster.local"`) {
		t.Fatalf("got %v (exit %d)", err, command.ExitCode(err))
	}
}

// TestRunAndStop starts the service from flags and environment and stops
// it as SIGTERM would.
func TestRunAndStop(t *testing.T) {
	dir := identitytest.NewDir(t, spiffeid.RequireTrustDomainFromString("example.org"))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	admin := ln.Addr().String()
	ln.Close()
	t.Setenv("MESHLITE_IDENTITY_TRUST_DOMAIN", "example.org")
	t.Setenv("MESHLITE_IDENTITY_ADMIN_ADDR", admin)
	ctx, cancel := context.WithCancel(context.Background())
	var stdout syncbuf.Buffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"--dir", dir, "--addr", "127.0.0.1:0"}, &stdout, &bytes.Buffer{})
	}()
	deadline := time.Now().Add(5 * time.Second)
	for {
		resp, err := http.Get("http://" + admin + "/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("not ready: %v\n%s", err, stdout.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"message":"identity service started"`, `"trust_domain":"example.org"`, `"message":"identity service stopped"`} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("log lacks %s:\n%s", want, stdout.String())
		}
	}
}
