package ca_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"

	"github.com/meshlite/meshlite/identity/ca"
	"github.com/meshlite/meshlite/internal/spiffe"
)

var (
	td  = spiffeid.RequireTrustDomainFromString("example.org")
	web = spiffeid.RequireFromString("spiffe://example.org/ns/default/sa/web")
	t0  = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
)

func newKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// authority makes an anchor and an issuer at t0 and returns them.
func authority(t *testing.T, issuerLifetime time.Duration) (*ca.Authority, *x509.Certificate) {
	t.Helper()
	anchor, anchorKey, err := ca.NewAnchor(td, ca.DefaultAnchorLifetime, t0)
	if err != nil {
		t.Fatal(err)
	}
	issuer, issuerKey, err := ca.NewIssuer(td, anchor, anchorKey, issuerLifetime, t0)
	if err != nil {
		t.Fatal(err)
	}
	a, err := ca.NewAuthority(td, []*x509.Certificate{anchor}, []*x509.Certificate{issuer}, issuerKey, t0)
	if err != nil {
		t.Fatal(err)
	}
	return a, anchor
}

func TestCreateSignVerify(t *testing.T) {
	a, anchor := authority(t, ca.DefaultIssuerLifetime)
	// The anchor and the issuer.
	if !anchor.IsCA || anchor.KeyUsage != x509.KeyUsageCertSign|x509.KeyUsageCRLSign || anchor.URIs[0].String() != "spiffe://example.org" {
		t.Errorf("anchor: IsCA %v KeyUsage %b URIs %v", anchor.IsCA, anchor.KeyUsage, anchor.URIs)
	}
	if got := anchor.NotAfter.Sub(t0); got != 10*365*24*time.Hour {
		t.Errorf("anchor lifetime %v", got)
	}
	is := a.Issuer()
	if !is.IsCA || is.MaxPathLen != 0 || !is.MaxPathLenZero || is.NotAfter.Sub(t0) != 365*24*time.Hour {
		t.Errorf("issuer: IsCA %v MaxPathLen %d/%v lifetime %v", is.IsCA, is.MaxPathLen, is.MaxPathLenZero, is.NotAfter.Sub(t0))
	}
	if _, ok := is.PublicKey.(*ecdsa.PublicKey); !ok || is.PublicKey.(*ecdsa.PublicKey).Curve != elliptic.P256() {
		t.Error("issuer key is not ECDSA P-256")
	}

	key := newKey(t)
	now := t0.Add(time.Hour)
	serials := map[string]bool{}
	for i := 0; i < 20; i++ {
		issued, err := a.Sign(key.Public(), web, ca.SignOptions{Now: now, Lifetime: 24 * time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		leaf := issued.Leaf
		serials[leaf.SerialNumber.String()] = true
		if leaf.SerialNumber.Sign() <= 0 || leaf.SerialNumber.BitLen() > 128 {
			t.Fatalf("serial %v", leaf.SerialNumber)
		}
		if i > 0 {
			continue
		}
		id, chains, err := x509svid.Verify(issued.Chain(), x509bundle.FromX509Authorities(td, []*x509.Certificate{anchor}), x509svid.WithTime(now))
		if err != nil || id != web || len(chains[0]) != 3 {
			t.Fatalf("Verify: %v %v %d", id, err, len(chains))
		}
		if leaf.IsCA || !leaf.BasicConstraintsValid || leaf.KeyUsage != x509.KeyUsageDigitalSignature ||
			len(leaf.ExtKeyUsage) != 2 || leaf.ExtKeyUsage[0] != x509.ExtKeyUsageServerAuth || leaf.ExtKeyUsage[1] != x509.ExtKeyUsageClientAuth {
			t.Errorf("leaf usage: CA %v KU %b EKU %v", leaf.IsCA, leaf.KeyUsage, leaf.ExtKeyUsage)
		}
		if len(leaf.URIs) != 1 || leaf.URIs[0].String() != web.String() || len(leaf.DNSNames)+len(leaf.IPAddresses)+len(leaf.EmailAddresses) != 0 {
			t.Errorf("leaf SANs %v %v %v %v", leaf.URIs, leaf.DNSNames, leaf.IPAddresses, leaf.EmailAddresses)
		}
		if leaf.Subject.String() != "" {
			t.Errorf("leaf subject %q", leaf.Subject)
		}
		if !leaf.NotBefore.Equal(now.Add(-time.Minute)) || !leaf.NotAfter.Equal(now.Add(24*time.Hour)) {
			t.Errorf("leaf validity %v – %v", leaf.NotBefore, leaf.NotAfter)
		}
		if len(issued.Intermediates) != 1 || !issued.Intermediates[0].Equal(is) || len(issued.Anchors) != 1 || !issued.Anchors[0].Equal(anchor) {
			t.Error("issued chain or anchors wrong")
		}
	}
	if len(serials) != 20 {
		t.Errorf("%d distinct serials in 20 leaves", len(serials))
	}
}

func TestSignClipsAndRefuses(t *testing.T) {
	a, _ := authority(t, 2*time.Hour)
	key := newKey(t)
	// 24h asked, 1h left on the issuer.
	issued, err := a.Sign(key.Public(), web, ca.SignOptions{Now: t0.Add(time.Hour), Lifetime: 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if !issued.Leaf.NotAfter.Equal(a.NotAfter()) || !a.NotAfter().Equal(t0.Add(2*time.Hour)) {
		t.Errorf("leaf NotAfter %v, issuer %v", issued.Leaf.NotAfter, a.NotAfter())
	}
	if _, err := a.Sign(key.Public(), web, ca.SignOptions{Now: t0.Add(2 * time.Hour), Lifetime: time.Hour}); !errors.Is(err, ca.ErrIssuerUnavailable) {
		t.Errorf("expired issuer: %v", err)
	}
	if _, err := a.Sign(key.Public(), web, ca.SignOptions{Now: t0.Add(-time.Hour), Lifetime: time.Hour}); !errors.Is(err, ca.ErrIssuerUnavailable) {
		t.Errorf("issuer not yet valid: %v", err)
	}
	if _, err := a.Sign(key.Public(), spiffeid.RequireFromString("spiffe://other.org/ns/a/sa/b"), ca.SignOptions{Now: t0, Lifetime: time.Hour}); err == nil {
		t.Error("signed for another trust domain")
	}
	// The serial comes from the injected randomness.
	fixed := bytes.NewReader(bytes.Repeat([]byte{0xab}, 16))
	issued, err = a.Sign(key.Public(), web, ca.SignOptions{Now: t0, Lifetime: time.Hour, Rand: fixed})
	if err != nil {
		t.Fatal(err)
	}
	want, _ := new(big.Int).SetString(strings.Repeat("ab", 16), 16)
	if issued.Leaf.SerialNumber.Cmp(want) != 0 {
		t.Errorf("serial %x, want %x", issued.Leaf.SerialNumber, want)
	}
}

func TestNewAuthorityRefuses(t *testing.T) {
	anchor, anchorKey, _ := ca.NewAnchor(td, time.Hour*24*365, t0)
	issuer, issuerKey, _ := ca.NewIssuer(td, anchor, anchorKey, time.Hour*24, t0)
	otherAnchor, otherAnchorKey, _ := ca.NewAnchor(td, time.Hour*24*365, t0)
	otherIssuer, otherKey, _ := ca.NewIssuer(td, otherAnchor, otherAnchorKey, time.Hour*24, t0)
	otherTD := spiffeid.RequireTrustDomainFromString("other.org")
	tdAnchor, tdAnchorKey, _ := ca.NewAnchor(otherTD, time.Hour*24*365, t0)
	tdIssuer, tdIssuerKey, _ := ca.NewIssuer(otherTD, tdAnchor, tdAnchorKey, time.Hour*24, t0)
	certs := func(c ...*x509.Certificate) []*x509.Certificate { return c }
	good, err := ca.NewAuthority(td, certs(anchor), certs(issuer), issuerKey, t0)
	if err != nil {
		t.Fatalf("valid pair refused: %v", err)
	}
	leafKey := newKey(t)
	leaf, err := good.Sign(leafKey.Public(), web, ca.SignOptions{Now: t0, Lifetime: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name           string
		anchors, chain []*x509.Certificate
		key            any
		now            time.Time
		msg            string
	}{
		{"key of another issuer", certs(anchor), certs(issuer), otherKey, t0, "does not match"},
		{"issuer of another anchor", certs(anchor), certs(otherIssuer), otherKey, t0, "does not verify against the trust anchors"},
		{"issuer of another trust domain", certs(tdAnchor), certs(tdIssuer), tdIssuerKey, t0, `not trust domain "example.org"`},
		{"expired issuer", certs(anchor), certs(issuer), issuerKey, t0.Add(25 * time.Hour), "issuer expired"},
		{"a leaf as issuer", certs(anchor), certs(leaf.Leaf), leafKey, t0, "is not a CA"},
		{"no anchors", nil, certs(issuer), issuerKey, t0, "no trust anchor"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k, _ := tc.key.(*ecdsa.PrivateKey)
			_, err := ca.NewAuthority(td, tc.anchors, tc.chain, k, tc.now)
			if !errors.Is(err, ca.ErrInvalidIssuer) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("got %v, want ErrInvalidIssuer containing %q", err, tc.msg)
			}
		})
	}
}

func TestCreateFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "td")
	if err := ca.Create(dir, ca.CreateOptions{TrustDomain: td, IssuerLifetime: 48 * time.Hour}); err != nil {
		t.Fatal(err)
	}
	for name, mode := range map[string]fs.FileMode{
		ca.AnchorCertFile: 0o644, ca.AnchorKeyFile: 0o600, ca.IssuerCertFile: 0o644, ca.IssuerKeyFile: 0o600,
	} {
		st, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != mode {
			t.Errorf("%s mode %v, want %v", name, st.Mode().Perm(), mode)
		}
	}
	if err := ca.Create(dir, ca.CreateOptions{TrustDomain: td}); err == nil || !strings.Contains(err.Error(), "exists") {
		t.Errorf("second Create: %v", err)
	}
	a, err := ca.LoadAuthority(td, ca.DefaultPaths(dir), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Until(a.NotAfter()); d < 47*time.Hour || d > 48*time.Hour {
		t.Errorf("issuer lifetime %v", d)
	}
	if err := ca.RotateIssuer(dir, td, 0, time.Time{}); err != nil {
		t.Fatal(err)
	}
	b, err := ca.LoadAuthority(td, ca.DefaultPaths(dir), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if b.Issuer().Equal(a.Issuer()) {
		t.Error("RotateIssuer kept the issuer")
	}
	if !b.Anchors().Equal(a.Anchors()) {
		t.Error("RotateIssuer changed the anchors")
	}
}

func TestReloader(t *testing.T) {
	dir := t.TempDir()
	if err := ca.Create(dir, ca.CreateOptions{TrustDomain: td}); err != nil {
		t.Fatal(err)
	}
	r, err := ca.NewReloader(td, ca.DefaultPaths(dir), time.Now)
	if err != nil {
		t.Fatal(err)
	}
	first := r.Current()
	if changed, err := r.Reload(); changed || err != nil {
		t.Fatalf("unchanged files: %v %v", changed, err)
	}
	if err := ca.RotateIssuer(dir, td, 0, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if changed, err := r.Reload(); !changed || err != nil {
		t.Fatalf("rotated: %v %v", changed, err)
	}
	second := r.Current()
	if second.Issuer().Equal(first.Issuer()) {
		t.Fatal("issuer not replaced")
	}
	// A broken key is refused once, not again until it changes.
	keyPath := filepath.Join(dir, ca.IssuerKeyFile)
	good, _ := os.ReadFile(keyPath)
	if err := spiffe.WriteFileAtomic(keyPath, []byte("broken"), 0o600); err != nil {
		t.Fatal(err)
	}
	if changed, err := r.Reload(); changed || err == nil {
		t.Fatalf("broken key: %v %v", changed, err)
	}
	if changed, err := r.Reload(); changed || err != nil {
		t.Fatalf("broken key again: %v %v", changed, err)
	}
	if r.Current() != second {
		t.Fatal("broken key replaced the issuer")
	}
	// Missing files likewise.
	os.Remove(keyPath)
	if _, err := r.Reload(); err == nil {
		t.Fatal("missing key: no error")
	}
	if err := spiffe.WriteFileAtomic(keyPath, good, 0o600); err != nil {
		t.Fatal(err)
	}
	if changed, err := r.Reload(); !changed || err != nil {
		t.Fatalf("key restored: %v %v", changed, err)
	}
	if !r.Current().Issuer().Equal(second.Issuer()) {
		t.Fatal("wrong issuer after restore")
	}
}
