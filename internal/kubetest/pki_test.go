package kubetest

import (
	"crypto/x509"
	"encoding/pem"
	"net"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

func TestPKI(t *testing.T) {
	dir := t.TempDir()
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	p, err := newPKI(dir, now)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(p.caPEM) {
		t.Fatal("CA PEM does not parse")
	}
	serving := parseCert(t, readFile(t, p.servingCert))
	if _, err := serving.Verify(x509.VerifyOptions{Roots: roots, CurrentTime: now, DNSName: "localhost"}); err != nil {
		t.Errorf("serving cert for localhost: %v", err)
	}
	for _, ip := range []string{"127.0.0.1", ServiceIP} {
		if !slices.ContainsFunc(serving.IPAddresses, func(a net.IP) bool { return a.Equal(net.ParseIP(ip)) }) {
			t.Errorf("serving cert lacks IP SAN %s: %v", ip, serving.IPAddresses)
		}
	}
	admin := parseCert(t, p.adminCertPEM)
	if _, err := admin.Verify(x509.VerifyOptions{Roots: roots, CurrentTime: now,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("admin cert: %v", err)
	}
	if !slices.Equal(admin.Subject.Organization, []string{"system:masters"}) {
		t.Errorf("admin organization %v", admin.Subject.Organization)
	}
	for _, f := range []struct{ path, typ string }{
		{p.saKey, "PRIVATE KEY"}, {p.saPub, "PUBLIC KEY"}, {p.servingKey, "PRIVATE KEY"}, {p.caFile, "CERTIFICATE"},
	} {
		b, _ := pem.Decode(readFile(t, f.path))
		if b == nil || b.Type != f.typ {
			t.Errorf("%s: want one %s block", filepath.Base(f.path), f.typ)
		}
	}
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func parseCert(t *testing.T, pemData []byte) *x509.Certificate {
	t.Helper()
	b, _ := pem.Decode(pemData)
	if b == nil {
		t.Fatal("no PEM block")
	}
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
