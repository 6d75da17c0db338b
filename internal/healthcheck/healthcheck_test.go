package healthcheck

import (
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/meshlite/meshlite/identity/ca"
)

func statuses(rs Results) string {
	var b strings.Builder
	for _, r := range rs {
		b.WriteString(string(r.Status[0]))
	}
	return b.String()
}

func TestRun(t *testing.T) {
	boom := func(context.Context) error { return errors.New("boom") }
	ok := func(context.Context) error { return nil }
	slow := func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }
	cats := []Category{
		{Name: "a", Checkers: []Checker{
			{Description: "ok", Check: ok},
			{Description: "warning flag", Warning: true, Check: boom},
			{Description: "warn()", Fatal: true, Check: func(context.Context) error { return Warn(errors.New("w")) }},
			{Description: "skip()", Check: func(context.Context) error { return Skip("n/a") }},
			{Description: "fatal", Fatal: true, Hint: "fix it", Check: boom},
			{Description: "after fatal", Check: ok},
		}},
		{Name: "b", Checkers: []Checker{{Description: "timeout", Check: slow}, {Description: "ok", Check: ok}}},
	}
	var seen int
	rs := Run(t.Context(), cats, Options{Timeout: 20 * time.Millisecond}, func(Result) { seen++ })
	// success, warning, warning, skipped, error, skipped; error, success
	if got := statuses(rs); got != "swwseses" || seen != len(rs) {
		t.Fatalf("statuses %s (observed %d)", got, seen)
	}
	if rs.Success() || rs.Count(StatusError) != 2 || rs[4].Hint != "fix it" || rs[0].Hint != "" {
		t.Fatalf("%+v", rs)
	}
	if !strings.Contains(rs[6].Err.Error(), "after 20ms") {
		t.Fatalf("timeout: %v", rs[6].Err)
	}
	if !strings.Contains(rs[5].Err.Error(), `"fatal" did not pass`) {
		t.Fatalf("skipped: %v", rs[5].Err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if got := statuses(Run(ctx, cats[1:], Options{}, nil)); got != "ss" || Run(ctx, cats[1:], Options{}, nil)[0].Status != StatusSkipped {
		t.Fatalf("cancelled run: %s", got)
	}
}

func TestIdentityExpiry(t *testing.T) {
	made := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	td := spiffeid.RequireTrustDomainFromString("example.org")
	anchor, key, err := ca.NewAnchor(td, 3650*day, made)
	if err != nil {
		t.Fatal(err)
	}
	other, otherKey, err := ca.NewAnchor(td, 3650*day, made)
	if err != nil {
		t.Fatal(err)
	}
	issuer := func(a *x509.Certificate, k crypto.Signer, at time.Time, life time.Duration) *x509.Certificate {
		i, _, err := ca.NewIssuer(td, a, k, life, at)
		if err != nil {
			t.Fatal(err)
		}
		return i
	}
	for _, tc := range []struct {
		name   string
		issuer *x509.Certificate
		// statuses of the issuer's checks: validity, chains, 7 days, 60 days
		want string
	}{
		{"a year left", issuer(anchor, key, made, 365*day), "ssss"},
		{"30 days left", issuer(anchor, key, made, 30*day), "sssw"},
		{"5 days left", issuer(anchor, key, made, 5*day), "sses"},
		{"expired", issuer(anchor, key, made.Add(-10*day), 5*day), "eess"},
		{"another anchor's", issuer(other, otherKey, made, 365*day), "sess"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := IdentityEnv{Addr: "x:1", Reach: func(context.Context) error { return nil },
				Certify: func(context.Context) (*Issuance, error) {
					return &Issuance{Intermediates: []*x509.Certificate{tc.issuer}, TrustAnchors: []*x509.Certificate{anchor}}, nil
				},
				Anchors: []*x509.Certificate{anchor}, Now: func() time.Time { return made.Add(time.Hour) }}
			rs := Run(t.Context(), []Category{Identity(env)}, Options{}, nil)
			// reachable, issues, the anchors' three checks, then the issuer's four.
			if got := statuses(rs); got != "sssss"+tc.want {
				var b strings.Builder
				Table(&b, rs)
				t.Fatalf("statuses %s, want sssss%s:\n%s", got, tc.want, b.String())
			}
		})
	}
	// Without --identity-dir the issuer comes from nowhere: skipped.
	env := IdentityEnv{Addr: "x:1", Reach: func(context.Context) error { return nil }, Anchors: []*x509.Certificate{anchor},
		Now: func() time.Time { return made }}
	if got := statuses(Run(t.Context(), []Category{Identity(env)}, Options{}, nil)); got != "swsssssss" {
		t.Fatalf("without a join key: %s", got)
	}
}

func TestDataPlane(t *testing.T) {
	now := time.Now()
	td := spiffeid.RequireTrustDomainFromString("example.org")
	anchor, key, err := ca.NewAnchor(td, 24*time.Hour, now)
	if err != nil {
		t.Fatal(err)
	}
	icert, ikey, err := ca.NewIssuer(td, anchor, key, time.Hour, now)
	if err != nil {
		t.Fatal(err)
	}
	auth, err := ca.NewAuthority(td, []*x509.Certificate{anchor}, []*x509.Certificate{icert}, ikey, now)
	if err != nil {
		t.Fatal(err)
	}
	leaf := func(ns, sa string) []*x509.Certificate {
		k, _, _ := ca.NewAnchor(td, time.Hour, now) // any key will do
		id := spiffeid.RequireFromSegments(td, "ns", ns, "sa", sa)
		is, err := auth.Sign(k.PublicKey, id, ca.SignOptions{Now: now, Lifetime: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		return is.Chain()
	}
	good := Proxy{Admin: "10.0.0.2:4191", Namespace: "default", Name: "web", Identity: "spiffe://example.org/ns/default/sa/web"}
	liar := Proxy{Admin: "10.0.0.3:4191", Namespace: "default", Name: "api", Identity: "spiffe://example.org/ns/default/sa/api"}
	anon := Proxy{Admin: "10.0.0.4:4191"}
	chains := map[string][]*x509.Certificate{good.Admin: leaf("default", "web"), liar.Admin: leaf("default", "web"), anon.Admin: leaf("other", "db")}
	env := DataPlaneEnv{
		Proxies: func(context.Context) ([]Proxy, error) { return []Proxy{good, liar, anon}, nil },
		Ready: func(_ context.Context, p Proxy) error {
			if p == anon {
				return errors.New("GET /ready: 503")
			}
			return nil
		},
		Certificate: func(_ context.Context, p Proxy) ([]*x509.Certificate, error) { return chains[p.Admin], nil },
		TrustDomain: td, Anchors: []*x509.Certificate{anchor},
		Rules: func(_ context.Context, p Proxy) error {
			if p == anon {
				return Warn(errors.New("not checked: elsewhere"))
			}
			return nil
		},
		Version: func(_ context.Context, p Proxy) (string, error) {
			return map[string]string{good.Admin: "v1", liar.Admin: "v2"}[p.Admin], nil
		},
	}
	rs := Run(t.Context(), []Category{DataPlane(env)}, Options{}, nil)
	// known, ready ×, certificates √, identities ×, rules ‼ (one warning only), versions ‼
	if got := statuses(rs); got != "sesew"+"w" {
		var b strings.Builder
		Table(&b, rs)
		t.Fatalf("statuses %s:\n%s", got, b.String())
	}
	if msg := rs[1].Err.Error(); msg != "10.0.0.4:4191: GET /ready: 503" {
		t.Fatalf("ready: %q", msg)
	}
	if msg := rs[3].Err.Error(); !strings.Contains(msg, "default/api (10.0.0.3:4191): presents spiffe://example.org/ns/default/sa/web, registered as spiffe://example.org/ns/default/sa/api") || strings.Contains(msg, "10.0.0.4") {
		t.Fatalf("identities: %q", msg)
	}
	if msg := rs[5].Err.Error(); !strings.Contains(msg, "run v1") || !strings.Contains(msg, "run v2") {
		t.Fatalf("versions: %q", msg)
	}
	// No proxies at all is a failure that stops the category.
	env.Proxies = func(context.Context) ([]Proxy, error) { return nil, errors.New("destination down") }
	if got := statuses(Run(t.Context(), []Category{DataPlane(env)}, Options{}, nil)); got != "esssss" {
		t.Fatalf("without proxies: %s", got)
	}
}
