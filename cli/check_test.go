package cli

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/meshlite/meshlite/internal/healthcheck"
)

// checkFixture runs checkers with fixed outcomes: an issuer about to
// expire, a warning, a proxy without its rules, and a fatal failure that
// skips the rest of its category.
func checkFixture(t *testing.T, healthy bool) healthcheck.Results {
	t.Helper()
	pass := func(context.Context) error { return nil }
	fail := func(msg string) func(context.Context) error {
		if healthy {
			return pass
		}
		return func(context.Context) error { return errors.New(msg) }
	}
	warn := func(msg string) func(context.Context) error {
		if healthy {
			return pass
		}
		return func(context.Context) error { return healthcheck.Warn(errors.New(msg)) }
	}
	cats := []healthcheck.Category{
		{Name: healthcheck.CategoryIdentity, Checkers: []healthcheck.Checker{
			{Description: "identity service is reachable", Fatal: true, Check: pass},
			{Description: "identity service issues certificates", Fatal: true, Check: pass},
			{Description: "issuer certificate is valid for at least 7 days", Hint: "make a new issuer: meshctl identity create --out DIR --issuer-only",
				Check: fail(`issuer "spiffe://cluster.local" (serial 1f) expires in 4 days, at 2030-01-06T00:00:00Z (less than 7 days)`)},
			{Description: "issuer certificate is valid for at least 60 days", Warning: true,
				Check: func(context.Context) error { return healthcheck.Skip("a stricter check failed") }},
		}},
		{Name: healthcheck.CategoryDestination, Checkers: []healthcheck.Checker{
			{Description: "destination service is reachable", Hint: "start meshlite-destination", Fatal: true,
				Check: fail("destination 10.201.0.2:8086: list workloads: rpc error: code = Unavailable desc = connection refused")},
			{Description: "destination service answers watches", Check: pass},
		}},
		{Name: healthcheck.CategoryDataPlane, Checkers: []healthcheck.Checker{
			{Description: "data-plane proxies are known", Fatal: true,
				Check: warn("destination unreachable; checking the 2 proxies given with --proxy")},
			{Description: "data-plane proxies are ready", Check: pass},
			{Description: "data-plane proxies have their iptables rules in place (meshlite-init --verify)", Hint: "run meshlite-init again",
				Check: fail("default/web (10.201.0.3:4191): rules differ from the plan:\nIPv4: chain MESHLITE_INBOUND is missing")},
		}},
	}
	return healthcheck.Run(t.Context(), cats, healthcheck.Options{}, nil)
}

func TestCheckGolden(t *testing.T) {
	for _, healthy := range []bool{false, true} {
		rs := checkFixture(t, healthy)
		for _, output := range []string{outputTable, outputShort, outputJSON} {
			var b bytes.Buffer
			if err := renderCheck(&b, output, rs); err != nil {
				t.Fatal(err)
			}
			name := "check/" + output
			if healthy {
				name += "-healthy"
			}
			golden(t, name+".golden", b.String())
		}
		err := checkError(rs)
		if healthy != (err == nil) {
			t.Fatalf("healthy %v: error %v", healthy, err)
		}
		if !healthy && err.Error() != "3 checks failed" {
			t.Fatalf("error %q", err)
		}
	}
}

func TestCheckUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"check"}, "nothing to check"},
		{[]string{"check", "--pre", "-o", "yaml"}, `-o "yaml"`},
		{[]string{"check", "--proxy", "a b"}, `--proxy "a b"`},
		{[]string{"check", "--identity-dir", "/x"}, "--identity-dir needs --identity-addr"},
		{[]string{"check", "--proxy", "10.0.0.1", "--cert", "c.pem"}, "--cert and --key go together"},
		{[]string{"check", "--destination", "nowhere"}, `--destination "nowhere": not host:port`},
	} {
		_, _, err := meshctl(t, tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("meshctl %v: %v, want %q", tc.args, err, tc.want)
		}
	}
}
