package app_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/spiffetls/tlsconfig"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"

	"github.com/meshlite/meshlite/identity/attest"
	"github.com/meshlite/meshlite/identity/ca"
	"github.com/meshlite/meshlite/identity/identitytest"
	identityv1 "github.com/meshlite/meshlite/internal/api/identity/v1"
	"github.com/meshlite/meshlite/internal/spiffe"
)

// dial connects to srv over TLS, verifying its SVID against the anchors
// and its ID, the way proxies do.
func dial(t *testing.T, srv *identitytest.Server) identityv1.IdentityClient {
	t.Helper()
	bundle, err := x509bundle.Load(srv.TrustDomain, srv.AnchorsFile())
	if err != nil {
		t.Fatal(err)
	}
	cfg := tlsconfig.TLSClientConfig(bundle, tlsconfig.AuthorizeID(spiffe.IdentityServiceID(srv.TrustDomain)))
	conn, err := grpc.NewClient(srv.Addr, grpc.WithTransportCredentials(credentials.NewTLS(cfg)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return identityv1.NewIdentityClient(conn)
}

func newKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// csr makes a CSR signed by key from tmpl.
func csr(t testing.TB, key *ecdsa.PrivateKey, tmpl *x509.CertificateRequest) []byte {
	t.Helper()
	der, err := x509.CreateCertificateRequest(rand.Reader, tmpl, key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func uris(t testing.TB, ss ...string) []*url.URL {
	t.Helper()
	var out []*url.URL
	for _, s := range ss {
		u, err := url.Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, u)
	}
	return out
}

func certify(t *testing.T, c identityv1.IdentityClient, id, token string, csrDER []byte) (*identityv1.CertifyResponse, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return c.Certify(ctx, &identityv1.CertifyRequest{Identity: id, Token: token, CertificateSigningRequest: csrDER})
}

const web = "spiffe://example.org/ns/default/sa/web"

func TestCertifyIssuesLeaf(t *testing.T) {
	srv := identitytest.Start(t, identitytest.Options{})
	c := dial(t, srv)
	key := newKey(t)
	start := time.Now()
	resp, err := certify(t, c, web, srv.JoinToken(t, "default", "web", time.Hour), csr(t, key, &x509.CertificateRequest{URIs: uris(t, web)}))
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(resp.GetLeafCertificate())
	if err != nil {
		t.Fatal(err)
	}
	// Leaf fields, exactly.
	if leaf.IsCA || !leaf.BasicConstraintsValid {
		t.Errorf("IsCA=%v BasicConstraintsValid=%v, want a leaf with basic constraints", leaf.IsCA, leaf.BasicConstraintsValid)
	}
	if leaf.KeyUsage != x509.KeyUsageDigitalSignature {
		t.Errorf("KeyUsage = %b, want digitalSignature only", leaf.KeyUsage)
	}
	if len(leaf.ExtKeyUsage) != 2 || leaf.ExtKeyUsage[0] != x509.ExtKeyUsageServerAuth || leaf.ExtKeyUsage[1] != x509.ExtKeyUsageClientAuth {
		t.Errorf("ExtKeyUsage = %v, want serverAuth, clientAuth", leaf.ExtKeyUsage)
	}
	if len(leaf.URIs) != 1 || leaf.URIs[0].String() != web || len(leaf.DNSNames)+len(leaf.IPAddresses)+len(leaf.EmailAddresses) != 0 {
		t.Errorf("SANs: URIs %v DNS %v IP %v email %v", leaf.URIs, leaf.DNSNames, leaf.IPAddresses, leaf.EmailAddresses)
	}
	if leaf.Subject.String() != "" {
		t.Errorf("subject %q, want empty", leaf.Subject)
	}
	if n := leaf.SerialNumber.BitLen(); n == 0 || n > 128 || n < 100 {
		t.Errorf("serial of %d bits, want a random 128-bit number", n)
	}
	if !leaf.PublicKey.(*ecdsa.PublicKey).Equal(&key.PublicKey) {
		t.Error("leaf is not for the CSR's key")
	}
	if d := leaf.NotBefore.Sub(start.Add(-time.Minute)); d < -2*time.Second || d > 2*time.Second {
		t.Errorf("NotBefore %v, want 1 minute before issuance (%v)", leaf.NotBefore, start)
	}
	if d := leaf.NotAfter.Sub(start.Add(24 * time.Hour)); d < -2*time.Second || d > 2*time.Second {
		t.Errorf("NotAfter %v, want 24h after issuance", leaf.NotAfter)
	}
	if !resp.GetValidUntil().AsTime().Equal(leaf.NotAfter) {
		t.Errorf("valid_until %v, NotAfter %v", resp.GetValidUntil().AsTime(), leaf.NotAfter)
	}
	// The chain verifies with go-spiffe against the anchors on disk and
	// against the anchors in the answer.
	raw := append([][]byte{resp.GetLeafCertificate()}, resp.GetIntermediateCertificates()...)
	fileBundle, err := x509bundle.Load(srv.TrustDomain, srv.AnchorsFile())
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range []*x509bundle.Bundle{fileBundle, bundleOf(t, srv.TrustDomain, resp.GetTrustAnchors())} {
		id, _, err := x509svid.ParseAndVerify(raw, b)
		if err != nil || id.String() != web {
			t.Fatalf("ParseAndVerify: %v, %v", id, err)
		}
	}
	issuerPEM, _ := os.ReadFile(filepath.Join(srv.Dir, ca.IssuerCertFile))
	issuer, _ := spiffe.ParseCertificates(issuerPEM)
	if len(resp.GetIntermediateCertificates()) != 1 || string(resp.GetIntermediateCertificates()[0]) != string(issuer[0].Raw) {
		t.Error("intermediates are not the issuer")
	}
	if !strings.Contains(srv.Logs(), `"serial":"`+leaf.SerialNumber.Text(16)+`"`) {
		t.Errorf("no issuance log line with the serial:\n%s", srv.Logs())
	}
}

func bundleOf(t *testing.T, td spiffeid.TrustDomain, ders [][]byte) *x509bundle.Bundle {
	t.Helper()
	var certs []*x509.Certificate
	for _, d := range ders {
		c, err := x509.ParseCertificate(d)
		if err != nil {
			t.Fatal(err)
		}
		certs = append(certs, c)
	}
	return x509bundle.FromX509Authorities(td, certs)
}

// TestCertifyRefusesCSR is the refusal matrix for requests and CSRs.
func TestCertifyRefusesCSR(t *testing.T) {
	srv := identitytest.Start(t, identitytest.Options{})
	c := dial(t, srv)
	token := srv.JoinToken(t, "default", "web", time.Hour)
	key := newKey(t)
	valid := csr(t, key, &x509.CertificateRequest{URIs: uris(t, web)})
	badSig := append([]byte(nil), valid...)
	badSig[len(badSig)-3] ^= 0xff
	bc, _ := asn1.Marshal(struct{ IsCA bool }{true})
	ku, _ := asn1.Marshal(asn1.BitString{Bytes: []byte{0x04}, BitLength: 6}) // keyCertSign
	for _, tc := range []struct {
		name, id string
		csr      []byte
		code     codes.Code
		msg      string
	}{
		{"two URI SANs", web, csr(t, key, &x509.CertificateRequest{URIs: uris(t, web, "spiffe://example.org/ns/default/sa/db")}), codes.InvalidArgument, "has 2 URI SANs, want exactly one"},
		{"no URI SAN", web, csr(t, key, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "web"}}), codes.InvalidArgument, "has 0 URI SANs"},
		{"DNS SAN", web, csr(t, key, &x509.CertificateRequest{URIs: uris(t, web), DNSNames: []string{"web.default.svc"}}), codes.InvalidArgument, "has a DNS SAN"},
		{"IP SAN", web, csr(t, key, &x509.CertificateRequest{URIs: uris(t, web), IPAddresses: []net.IP{net.IPv4(10, 0, 0, 1)}}), codes.InvalidArgument, "has an IP SAN"},
		{"e-mail SAN", web, csr(t, key, &x509.CertificateRequest{URIs: uris(t, web), EmailAddresses: []string{"a@b.c"}}), codes.InvalidArgument, "has an e-mail SAN"},
		{"CSR for another trust domain", web, csr(t, key, &x509.CertificateRequest{URIs: uris(t, "spiffe://other.org/ns/default/sa/web")}), codes.InvalidArgument, `is not the requested identity`},
		{"CSR for another ID", web, csr(t, key, &x509.CertificateRequest{URIs: uris(t, "spiffe://example.org/ns/default/sa/db")}), codes.InvalidArgument, `is not the requested identity`},
		{"CSR URI not SPIFFE", web, csr(t, key, &x509.CertificateRequest{URIs: uris(t, "https://example.org/web")}), codes.InvalidArgument, "is not a SPIFFE ID"},
		{"request in another trust domain", "spiffe://other.org/ns/default/sa/web", csr(t, key, &x509.CertificateRequest{URIs: uris(t, "spiffe://other.org/ns/default/sa/web")}), codes.InvalidArgument, `trust domain "other.org", want "example.org"`},
		{"bad path shape", "spiffe://example.org/web", csr(t, key, &x509.CertificateRequest{URIs: uris(t, "spiffe://example.org/web")}), codes.InvalidArgument, "is not /ns/<namespace>/sa/<service-account>"},
		{"bad path shape, extra segment", "spiffe://example.org/ns/default/sa/web/x", valid, codes.InvalidArgument, "is not /ns/<namespace>/sa/<service-account>"},
		{"not a SPIFFE ID", "https://example.org/ns/default/sa/web", valid, codes.InvalidArgument, "scheme is missing or invalid"},
		{"bad namespace", "spiffe://example.org/ns/Default/sa/web", valid, codes.InvalidArgument, "is not a DNS-1123 label"},
		{"bad signature", web, badSig, codes.InvalidArgument, "self-signature does not verify"},
		{"CA request", web, csr(t, key, &x509.CertificateRequest{URIs: uris(t, web), ExtraExtensions: []pkix.Extension{{Id: asn1.ObjectIdentifier{2, 5, 29, 19}, Critical: true, Value: bc}}}), codes.InvalidArgument, "requests a CA certificate"},
		{"keyCertSign request", web, csr(t, key, &x509.CertificateRequest{URIs: uris(t, web), ExtraExtensions: []pkix.Extension{{Id: asn1.ObjectIdentifier{2, 5, 29, 15}, Value: ku}}}), codes.InvalidArgument, "requests keyCertSign or cRLSign"},
		{"other extension", web, csr(t, key, &x509.CertificateRequest{URIs: uris(t, web), ExtraExtensions: []pkix.Extension{{Id: asn1.ObjectIdentifier{2, 5, 29, 30}, Value: []byte{0x30, 0}}}}), codes.InvalidArgument, "requests extension 2.5.29.30"},
		{"empty CSR", web, nil, codes.InvalidArgument, "empty certificate signing request"},
		{"garbage CSR", web, []byte("not a csr"), codes.InvalidArgument, "not a DER PKCS #10"},
		{"no token", web, valid, codes.Unauthenticated, "token: missing"},
		{"the service's own ID", "spiffe://example.org/ns/meshlite/sa/identity", csr(t, key, &x509.CertificateRequest{URIs: uris(t, "spiffe://example.org/ns/meshlite/sa/identity")}), codes.PermissionDenied, "reserved for the identity service"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tok := token
			if tc.name == "no token" {
				tok = ""
			}
			_, err := certify(t, c, tc.id, tok, tc.csr)
			st := status.Convert(err)
			if st.Code() != tc.code || !strings.Contains(st.Message(), tc.msg) {
				t.Fatalf("got %v %q, want %v containing %q", st.Code(), st.Message(), tc.code, tc.msg)
			}
		})
	}
	if !strings.Contains(srv.Logs(), `"reason":"invalid_csr"`) {
		t.Errorf("no refusal log line with the reason:\n%s", srv.Logs())
	}
}

// TestCertifyJoinTokens: each kind of bad token is refused with its code.
func TestCertifyJoinTokens(t *testing.T) {
	srv := identitytest.Start(t, identitytest.Options{})
	c := dial(t, srv)
	valid := srv.JoinToken(t, "default", "web", time.Hour)

	joinKey, err := attest.LoadJoinKey(filepath.Join(srv.Dir, attest.JoinKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	webID := srv.WorkloadID(t, "default", "web")
	expired, err := attest.MintJoinToken(joinKey, webID, time.Hour, time.Now().Add(-2*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	forged, err := attest.MintJoinToken(newKey(t), webID, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	// Tampered: the payload of a token for db, the signature of web's.
	db := srv.JoinToken(t, "default", "db", time.Hour)
	p1, p2 := strings.Split(valid, "."), strings.Split(db, ".")
	tampered := p1[0] + "." + p2[1] + "." + p1[2]

	for _, tc := range []struct {
		name, id, token string
		code            codes.Code
		msg             string
	}{
		{"valid", web, valid, codes.OK, ""},
		{"valid again (reusable until expiry)", web, valid, codes.OK, ""},
		{"expired", web, expired, codes.Unauthenticated, "token has expired"},
		{"for another ID", "spiffe://example.org/ns/default/sa/db", valid, codes.PermissionDenied, `token proves "spiffe://example.org/ns/default/sa/web", not the requested "spiffe://example.org/ns/default/sa/db"`},
		{"forged with another key", web, forged, codes.Unauthenticated, "no JWT authority"},
		{"tampered", "spiffe://example.org/ns/default/sa/db", tampered, codes.Unauthenticated, "join token"},
		{"not a JWT", web, "hello", codes.Unauthenticated, "token is not one of: join"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id, _ := spiffeid.FromString(tc.id)
			_, err := certify(t, c, tc.id, tc.token, csr(t, newKey(t), &x509.CertificateRequest{URIs: []*url.URL{id.URL()}}))
			st := status.Convert(err)
			if st.Code() != tc.code || !strings.Contains(st.Message(), tc.msg) {
				t.Fatalf("got %v %q, want %v containing %q", st.Code(), st.Message(), tc.code, tc.msg)
			}
		})
	}
	for _, want := range []string{`"reason":"unauthenticated"`, `"reason":"permission_denied"`} {
		if !strings.Contains(srv.Logs(), want) {
			t.Errorf("no log line with %s", want)
		}
	}
}

// issuerOf asks for a leaf and returns its issuer (the first intermediate).
func issuerOf(t *testing.T, srv *identitytest.Server, c identityv1.IdentityClient) (*x509.Certificate, *x509.Certificate) {
	t.Helper()
	resp, err := certify(t, c, web, srv.JoinToken(t, "default", "web", time.Hour), csr(t, newKey(t), &x509.CertificateRequest{URIs: uris(t, web)}))
	if err != nil {
		t.Fatal(err)
	}
	raw := append([][]byte{resp.GetLeafCertificate()}, resp.GetIntermediateCertificates()...)
	b, err := x509bundle.Load(srv.TrustDomain, srv.AnchorsFile())
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := x509svid.ParseAndVerify(raw, b); err != nil {
		t.Fatalf("leaf does not chain to the original anchor: %v", err)
	}
	leaf, _ := x509.ParseCertificate(raw[0])
	issuer, _ := x509.ParseCertificate(raw[1])
	return leaf, issuer
}

// eventually polls cond every 20ms for up to d.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, d)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestIssuerReload replaces the issuer files under a running service.
func TestIssuerReload(t *testing.T) {
	srv := identitytest.Start(t, identitytest.Options{})
	c := dial(t, srv)
	_, first := issuerOf(t, srv, c)

	// A new issuer under the same anchor, valid for only an hour: new
	// leaves chain through it and are clipped to its expiry.
	if err := ca.RotateIssuer(srv.Dir, srv.TrustDomain, time.Hour, time.Time{}); err != nil {
		t.Fatal(err)
	}
	var second *x509.Certificate
	var leaf *x509.Certificate
	eventually(t, 3*time.Second, "new issuer in force", func() bool {
		leaf, second = issuerOf(t, srv, c)
		return second.SerialNumber.Cmp(first.SerialNumber) != 0
	})
	if !leaf.NotAfter.Equal(second.NotAfter) {
		t.Errorf("leaf NotAfter %v, want clipped to the issuer's %v", leaf.NotAfter, second.NotAfter)
	}
	// The service presents an SVID from the new issuer too.
	eventually(t, 3*time.Second, "service's own SVID from the new issuer", func() bool {
		return servedIssuer(t, srv).SerialNumber.Cmp(second.SerialNumber) == 0
	})

	// Invalid replacements are refused; the second issuer stays.
	otherDir := identitytest.NewDir(t, spiffeid.RequireTrustDomainFromString("example.org"))
	goodCert, _ := os.ReadFile(filepath.Join(srv.Dir, ca.IssuerCertFile))
	goodKey, _ := os.ReadFile(filepath.Join(srv.Dir, ca.IssuerKeyFile))
	otherCert, _ := os.ReadFile(filepath.Join(otherDir, ca.IssuerCertFile))
	otherKey, _ := os.ReadFile(filepath.Join(otherDir, ca.IssuerKeyFile))
	for _, tc := range []struct {
		name      string
		cert, key []byte
	}{
		{"garbage certificate", []byte("garbage"), goodKey},
		{"key of another issuer", goodCert, otherKey},
		{"issuer of another anchor", otherCert, otherKey},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := strings.Count(srv.Logs(), "new issuer files refused")
			write(t, filepath.Join(srv.Dir, ca.IssuerCertFile), tc.cert)
			write(t, filepath.Join(srv.Dir, ca.IssuerKeyFile), tc.key)
			eventually(t, 3*time.Second, "refusal logged", func() bool {
				return strings.Count(srv.Logs(), "new issuer files refused") > before
			})
			if _, got := issuerOf(t, srv, c); got.SerialNumber.Cmp(second.SerialNumber) != 0 {
				t.Fatal("an invalid issuer was put in force")
			}
		})
	}
	// Putting the valid pair back is accepted again.
	write(t, filepath.Join(srv.Dir, ca.IssuerCertFile), goodCert)
	write(t, filepath.Join(srv.Dir, ca.IssuerKeyFile), goodKey)
	time.Sleep(300 * time.Millisecond)
	if _, got := issuerOf(t, srv, c); got.SerialNumber.Cmp(second.SerialNumber) != 0 {
		t.Fatal("issuer changed")
	}
}

func write(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := spiffe.WriteFileAtomic(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// servedIssuer is the issuer of the certificate the service presents.
func servedIssuer(t *testing.T, srv *identitytest.Server) *x509.Certificate {
	t.Helper()
	b, err := x509bundle.Load(srv.TrustDomain, srv.AnchorsFile())
	if err != nil {
		t.Fatal(err)
	}
	cfg := tlsconfig.TLSClientConfig(b, tlsconfig.AuthorizeID(srv.ID()))
	cfg.NextProtos = []string{"h2"}
	conn, err := tls.Dial("tcp", srv.Addr, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	chain := conn.ConnectionState().PeerCertificates
	if len(chain) < 2 {
		t.Fatalf("service presented %d certificates", len(chain))
	}
	return chain[1]
}
