package spiffe_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"

	"github.com/meshlite/meshlite/internal/spiffe"
)

var td = spiffeid.RequireTrustDomainFromString("example.org")

func TestWorkloadID(t *testing.T) {
	for _, tc := range []struct {
		ns, sa string
		want   string // "" for an error
	}{
		{"default", "web", "spiffe://example.org/ns/default/sa/web"},
		{"kube-system", "coredns.v1", "spiffe://example.org/ns/kube-system/sa/coredns.v1"},
		{"a", strings.Repeat("b", 63) + "." + strings.Repeat("c", 63), "spiffe://example.org/ns/a/sa/" + strings.Repeat("b", 63) + "." + strings.Repeat("c", 63)},
		{"Default", "web", ""},
		{"-ns", "web", ""},
		{"ns-", "web", ""},
		{strings.Repeat("n", 64), "web", ""},
		{"", "web", ""},
		{"default", "", ""},
		{"default", "web..x", ""},
		{"default", "web/x", ""},
		{"default", "Web", ""},
		{"default", "web_x", ""},
	} {
		t.Run(tc.ns+"/"+tc.sa, func(t *testing.T) {
			id, err := spiffe.WorkloadID(td, tc.ns, tc.sa)
			if tc.want == "" {
				if !errors.Is(err, spiffe.ErrWorkloadID) {
					t.Fatalf("got %v, %v; want ErrWorkloadID", id, err)
				}
				return
			}
			if err != nil || id.String() != tc.want {
				t.Fatalf("got %v, %v; want %s", id, err, tc.want)
			}
			ns, sa, err := spiffe.ParseWorkloadID(id)
			if err != nil || ns != tc.ns || sa != tc.sa {
				t.Fatalf("ParseWorkloadID: %q %q %v", ns, sa, err)
			}
		})
	}
}

func TestParseWorkloadID(t *testing.T) {
	for _, s := range []string{
		"spiffe://example.org",
		"spiffe://example.org/web",
		"spiffe://example.org/ns/default",
		"spiffe://example.org/ns/default/sa",
		"spiffe://example.org/ns/default/sa/web/extra",
		"spiffe://example.org/sa/web/ns/default",
		"spiffe://example.org/ns/Default/sa/web",
	} {
		if _, _, err := spiffe.ParseWorkloadID(spiffeid.RequireFromString(s)); !errors.Is(err, spiffe.ErrWorkloadID) {
			t.Errorf("%s: %v, want ErrWorkloadID", s, err)
		}
	}
	id := spiffeid.RequireFromString("spiffe://other.org/ns/default/sa/web")
	if err := spiffe.CheckWorkloadID(id, td); err == nil || !strings.Contains(err.Error(), `trust domain "other.org", want "example.org"`) {
		t.Errorf("CheckWorkloadID: %v", err)
	}
	if got := spiffe.IdentityServiceID(td).String(); got != "spiffe://example.org/ns/meshlite/sa/identity" {
		t.Errorf("IdentityServiceID = %s", got)
	}
}

func selfSigned(t *testing.T) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "x"}, NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, k.Public(), k)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return c, k
}

func TestPEM(t *testing.T) {
	c1, k := selfSigned(t)
	c2, _ := selfSigned(t)
	certs, err := spiffe.ParseCertificates(spiffe.EncodeCertificates(c1, c2))
	if err != nil || len(certs) != 2 || !certs[0].Equal(c1) || !certs[1].Equal(c2) {
		t.Fatalf("certificates round trip: %v", err)
	}
	keyPEM, err := spiffe.EncodePrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	k2, err := spiffe.ParsePrivateKey(keyPEM)
	if err != nil || !k2.(*ecdsa.PrivateKey).Equal(k) {
		t.Fatalf("key round trip: %v", err)
	}
	pubPEM, err := spiffe.EncodePublicKeys(k.Public(), k.Public())
	if err != nil {
		t.Fatal(err)
	}
	pubs, err := spiffe.ParsePublicKeys(pubPEM)
	if err != nil || len(pubs) != 2 {
		t.Fatalf("public keys: %v", err)
	}
	for name, f := range map[string]func([]byte) error{
		"certs":   func(b []byte) error { _, err := spiffe.ParseCertificates(b); return err },
		"key":     func(b []byte) error { _, err := spiffe.ParsePrivateKey(b); return err },
		"pubkeys": func(b []byte) error { _, err := spiffe.ParsePublicKeys(b); return err },
	} {
		for _, in := range [][]byte{nil, []byte("junk"), []byte("-----BEGIN FOO-----\nAAAA\n-----END FOO-----\n")} {
			if f(in) == nil {
				t.Errorf("%s(%q): no error", name, in)
			}
		}
	}
}

func TestWriteFileAtomic(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f")
	for i, mode := range []os.FileMode{0o600, 0o644} {
		if err := spiffe.WriteFileAtomic(p, []byte(fmt.Sprint(i)), mode); err != nil {
			t.Fatal(err)
		}
		st, _ := os.Stat(p)
		b, _ := os.ReadFile(p)
		if st.Mode().Perm() != mode || string(b) != fmt.Sprint(i) {
			t.Fatalf("mode %v content %q", st.Mode().Perm(), b)
		}
	}
	entries, _ := os.ReadDir(filepath.Dir(p))
	if len(entries) != 1 {
		t.Fatalf("temporary files left: %v", entries)
	}
	if err := spiffe.WriteFileAtomic(filepath.Join(p, "x"), nil, 0o600); err == nil {
		t.Fatal("write below a file: no error")
	}
}

func TestSVIDStore(t *testing.T) {
	var s spiffe.SVIDStore
	if _, err := s.GetX509SVID(); !errors.Is(err, spiffe.ErrNoSVID) {
		t.Fatalf("empty store: %v", err)
	}
	a, b := &x509svid.SVID{}, &x509svid.SVID{}
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Go(func() {
			for j := 0; j < 1000; j++ {
				if j%2 == 0 {
					s.Set(a)
				} else {
					s.Set(b)
				}
				if v, err := s.GetX509SVID(); err != nil || (v != a && v != b) {
					t.Errorf("got %p, %v", v, err)
					return
				}
			}
		})
	}
	wg.Wait()
}
