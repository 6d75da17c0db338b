package cli

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/meshlite/meshlite/identity/attest"
	"github.com/meshlite/meshlite/identity/ca"
	"github.com/meshlite/meshlite/internal/spiffe"
)

func init() {
	// Other tests of this package may define it too.
	if flag.Lookup("update") == nil {
		flag.Bool("update", false, "rewrite testdata golden files")
	}
}

func updateGolden() bool {
	f := flag.Lookup("update")
	return f != nil && f.Value.String() == "true"
}

// meshctl runs the command line args and returns its output.
func meshctl(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errb bytes.Buffer
	root := NewRoot(Streams{In: strings.NewReader(""), Out: &out, Err: &errb})
	root.SetArgs(args)
	err = root.ExecuteContext(context.Background())
	return out.String(), errb.String(), err
}

// golden compares got with testdata/name, or rewrites it under -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	p := filepath.Join("testdata", name)
	if updateGolden() {
		if err := os.WriteFile(p, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if got != string(want) {
		t.Fatalf("output differs from %s (run with -update to accept):\n--- got\n%s--- want\n%s", p, got, want)
	}
}

var dates = regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ`)

func TestIdentityCreate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "td")
	out, _, err := meshctl(t, "identity", "create", "--trust-domain", "example.org", "--out", dir)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "identity-create.golden", dates.ReplaceAllString(strings.ReplaceAll(out, dir, "DIR"), "DATE"))

	modes := map[string]fs.FileMode{
		ca.AnchorCertFile: 0o644, ca.AnchorKeyFile: 0o600, ca.IssuerCertFile: 0o644, ca.IssuerKeyFile: 0o600,
		attest.JoinKeyFile: 0o600, attest.JoinPublicKeyFile: 0o644,
	}
	for name, mode := range modes {
		st, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != mode {
			t.Errorf("%s: mode %v, want %v", name, st.Mode().Perm(), mode)
		}
	}
	if st, _ := os.Stat(dir); st.Mode().Perm() != 0o700 {
		t.Errorf("directory mode %v, want 0700", st.Mode().Perm())
	}
	// Every PEM parses; the keys are ECDSA P-256; the lifetimes are the defaults.
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	anchors, err := spiffe.ParseCertificates(read(ca.AnchorCertFile))
	if err != nil {
		t.Fatal(err)
	}
	issuers, err := spiffe.ParseCertificates(read(ca.IssuerCertFile))
	if err != nil {
		t.Fatal(err)
	}
	if d := anchors[0].NotAfter.Sub(anchors[0].NotBefore); d != 10*365*24*time.Hour+time.Minute {
		t.Errorf("anchor lifetime %v", d)
	}
	if d := issuers[0].NotAfter.Sub(issuers[0].NotBefore); d != 365*24*time.Hour+time.Minute {
		t.Errorf("issuer lifetime %v", d)
	}
	for _, name := range []string{ca.AnchorKeyFile, ca.IssuerKeyFile, attest.JoinKeyFile} {
		k, err := spiffe.ParsePrivateKey(read(name))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if ek, ok := k.(*ecdsa.PrivateKey); !ok || ek.Curve != elliptic.P256() {
			t.Errorf("%s: %T, want ECDSA P-256", name, k)
		}
	}
	if _, err := spiffe.ParsePublicKeys(read(attest.JoinPublicKeyFile)); err != nil {
		t.Fatal(err)
	}
	td := spiffeid.RequireTrustDomainFromString("example.org")
	if _, err := ca.LoadAuthority(td, ca.DefaultPaths(dir), time.Now()); err != nil {
		t.Fatalf("the files do not make a working issuer: %v", err)
	}

	// Not over existing files without --force.
	if _, _, err := meshctl(t, "identity", "create", "--trust-domain", "example.org", "--out", dir); err == nil || !strings.Contains(err.Error(), "exists") {
		t.Fatalf("second create: %v", err)
	}
	// --issuer-only keeps the anchor.
	out, _, err = meshctl(t, "identity", "create", "--trust-domain", "example.org", "--out", dir, "--issuer-only", "--issuer-lifetime", "720h")
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "identity-create-issuer-only.golden", dates.ReplaceAllString(strings.ReplaceAll(out, dir, "DIR"), "DATE"))
	if !bytes.Equal(read(ca.AnchorCertFile), spiffe.EncodeCertificates(anchors[0])) {
		t.Error("--issuer-only changed the anchor")
	}
	a, err := ca.LoadAuthority(td, ca.DefaultPaths(dir), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if a.Issuer().Equal(issuers[0]) || a.Issuer().NotAfter.Sub(a.Issuer().NotBefore) != 720*time.Hour+time.Minute {
		t.Error("--issuer-only did not write a 30-day issuer")
	}
	// --force overwrites everything.
	if _, _, err := meshctl(t, "identity", "create", "--trust-domain", "example.org", "--out", dir, "--force"); err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(read(ca.AnchorCertFile), spiffe.EncodeCertificates(anchors[0])) {
		t.Error("--force kept the anchor")
	}
}

func TestIdentityToken(t *testing.T) {
	dir := t.TempDir()
	if _, _, err := meshctl(t, "identity", "create", "--trust-domain", "example.org", "--out", dir); err != nil {
		t.Fatal(err)
	}
	j, err := attest.LoadJoinTokens(spiffeid.RequireTrustDomainFromString("example.org"), filepath.Join(dir, attest.JoinPublicKeyFile), time.Now)
	if err != nil {
		t.Fatal(err)
	}
	out, _, err := meshctl(t, "identity", "token", "--dir", dir, "--ns", "default", "--sa", "web")
	if err != nil {
		t.Fatal(err)
	}
	id, err := j.Attest(context.Background(), strings.TrimSpace(out))
	if err != nil || id.String() != "spiffe://example.org/ns/default/sa/web" {
		t.Fatalf("token proves %v, %v", id, err)
	}
	if got := tokenTTL(t, strings.TrimSpace(out)); got != time.Hour {
		t.Errorf("default ttl %v, want 1h", got)
	}

	file := filepath.Join(t.TempDir(), "token")
	_, errOut, err := meshctl(t, "identity", "token", "--dir", dir, "--ns", "prod", "--sa", "db", "--ttl", "10m", "--out", file)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(errOut, "spiffe://example.org/ns/prod/sa/db") {
		t.Errorf("stderr %q", errOut)
	}
	st, err := os.Stat(file)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("token file: %v %v", st, err)
	}
	tok, _ := os.ReadFile(file)
	if got := tokenTTL(t, strings.TrimSpace(string(tok))); got != 10*time.Minute {
		t.Errorf("ttl %v, want 10m", got)
	}
	if id, err := j.Attest(context.Background(), strings.TrimSpace(string(tok))); err != nil || id.String() != "spiffe://example.org/ns/prod/sa/db" {
		t.Fatalf("token file proves %v, %v", id, err)
	}

	for _, tc := range []struct {
		name string
		args []string
		msg  string
	}{
		{"no dir", []string{"--ns", "a", "--sa", "b"}, "--dir: required"},
		{"no ns", []string{"--dir", dir, "--sa", "b"}, "--ns: required"},
		{"bad ns", []string{"--dir", dir, "--ns", "Prod", "--sa", "b"}, "is not a DNS-1123 label"},
		{"bad ttl", []string{"--dir", dir, "--ns", "a", "--sa", "b", "--ttl", "-1h"}, "--ttl must be positive"},
		{"no key", []string{"--dir", t.TempDir(), "--ns", "a", "--sa", "b", "--trust-domain", "example.org"}, "join key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := meshctl(t, append([]string{"identity", "token"}, tc.args...)...)
			if err == nil || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("got %v, want an error containing %q", err, tc.msg)
			}
		})
	}
}

// tokenTTL is exp - iat of a join token, checking its header on the way.
func tokenTTL(t *testing.T, tok string) time.Duration {
	t.Helper()
	parsed, err := jwt.ParseSigned(tok, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		t.Fatal(err)
	}
	if h := parsed.Headers[0]; h.KeyID == "" || h.ExtraHeaders[jose.HeaderType] != "JWT" {
		t.Errorf("header %+v", h)
	}
	var c jwt.Claims
	if err := parsed.UnsafeClaimsWithoutVerification(&c); err != nil {
		t.Fatal(err)
	}
	if len(c.Audience) != 1 || c.Audience[0] != attest.JoinAudience || c.ID == "" {
		t.Errorf("claims %+v", c)
	}
	return c.Expiry.Time().Sub(c.IssuedAt.Time())
}
