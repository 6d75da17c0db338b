package app_test

import (
	"crypto/x509"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/meshlite/meshlite/identity/identitytest"
)

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(body)
}

func TestAdmin(t *testing.T) {
	srv := identitytest.Start(t, identitytest.Options{})
	c := dial(t, srv)
	base := "http://" + srv.AdminAddr
	for _, p := range []string{"/live", "/ready"} {
		if code, _ := get(t, base+p); code != http.StatusOK {
			t.Errorf("GET %s: %d", p, code)
		}
	}
	_, issuer := issuerOf(t, srv, c) // one issued
	if _, err := certify(t, c, web, "x", nil); err == nil {
		t.Fatal("empty CSR accepted")
	}
	if _, err := certify(t, c, "spiffe://example.org/ns/default/sa/db", srv.JoinToken(t, "default", "web", time.Hour),
		csr(t, newKey(t), &x509.CertificateRequest{URIs: uris(t, "spiffe://example.org/ns/default/sa/db")})); err == nil {
		t.Fatal("token for web accepted for db")
	}
	code, body := get(t, base+"/metrics")
	if code != http.StatusOK {
		t.Fatalf("GET /metrics: %d", code)
	}
	for _, want := range []string{
		"identity_cert_issued_total 1\n",
		`identity_cert_refused_total{reason="invalid_csr"} 1` + "\n",
		`identity_cert_refused_total{reason="permission_denied"} 1` + "\n",
		`identity_cert_refused_total{reason="unauthenticated"} 0` + "\n",
		"identity_issuer_expiry_timestamp_seconds " + strconv.FormatFloat(float64(issuer.NotAfter.Unix()), 'g', -1, 64) + "\n",
		`identity_issuer_reload_total{result="refused"} 0` + "\n",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	srv.Stop()
	if _, err := http.Get(base + "/ready"); err == nil {
		t.Error("admin still answering after Stop")
	}
}
