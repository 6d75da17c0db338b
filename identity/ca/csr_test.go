package ca_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"net"
	"net/url"
	"strings"
	"testing"

	"github.com/meshlite/meshlite/identity/ca"
)

func mustURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}

func makeCSR(tb testing.TB, key crypto.Signer, tmpl *x509.CertificateRequest) []byte {
	tb.Helper()
	der, err := x509.CreateCertificateRequest(rand.Reader, tmpl, key)
	if err != nil {
		tb.Fatal(err)
	}
	return der
}

// sanExt builds a subjectAltName extension from raw GeneralNames.
func sanExt(tb testing.TB, names ...asn1.RawValue) pkix.Extension {
	tb.Helper()
	v, err := asn1.Marshal(names)
	if err != nil {
		tb.Fatal(err)
	}
	return pkix.Extension{Id: asn1.ObjectIdentifier{2, 5, 29, 17}, Value: v}
}

func uriName(s string) asn1.RawValue {
	return asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 6, Bytes: []byte(s)}
}

// csrCases are named CSRs with the reason they are refused for ("" for
// accepted). They are also the fuzz seed corpus.
func csrCases(tb testing.TB) []struct {
	name, reason, msg string
	der               []byte
} {
	key := newKey(tb)
	p521, _ := ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	rsa1024, _ := rsa.GenerateKey(rand.Reader, 1024)
	w := []*url.URL{web.URL()}
	valid := makeCSR(tb, key, &x509.CertificateRequest{URIs: w})
	badSig := append([]byte(nil), valid...)
	badSig[len(badSig)-3] ^= 0xff
	isCA, _ := asn1.Marshal(struct{ IsCA bool }{true})
	notCA, _ := asn1.Marshal(struct{}{})
	certSign, _ := asn1.Marshal(asn1.BitString{Bytes: []byte{0x04}, BitLength: 6})
	digital, _ := asn1.Marshal(asn1.BitString{Bytes: []byte{0x80}, BitLength: 1})
	oid, _ := asn1.Marshal(asn1.ObjectIdentifier{1, 2, 3})
	ext := func(id asn1.ObjectIdentifier, v []byte) pkix.Extension { return pkix.Extension{Id: id, Value: v} }
	return []struct {
		name, reason, msg string
		der               []byte
	}{
		{"valid", "", "", valid},
		{"valid with subject and ignored extensions", "", "", makeCSR(tb, key, &x509.CertificateRequest{
			Subject: pkix.Name{CommonName: "web"}, URIs: w,
			ExtraExtensions: []pkix.Extension{
				sanExt(tb, uriName(web.String())),
				ext(asn1.ObjectIdentifier{2, 5, 29, 19}, notCA),
				ext(asn1.ObjectIdentifier{2, 5, 29, 15}, digital),
			},
		})},
		{"P-384", "", "", makeCSR(tb, p384, &x509.CertificateRequest{URIs: w})},
		{"Ed25519", "", "", makeCSR(tb, ed, &x509.CertificateRequest{URIs: w})},
		{"empty", ca.ReasonMalformed, "empty certificate signing request", nil},
		{"garbage", ca.ReasonMalformed, "not a DER PKCS #10", []byte{0x30, 0x03, 0x02, 0x01, 0x01}},
		{"too large", ca.ReasonMalformed, "larger than", make([]byte, ca.MaxCSRSize+1)},
		{"bad signature", ca.ReasonSignature, "self-signature does not verify", badSig},
		{"P-521 key", ca.ReasonPublicKey, "P-521 not accepted", makeCSR(tb, p521, &x509.CertificateRequest{URIs: w})},
		{"RSA 1024 key", ca.ReasonPublicKey, "RSA key of 1024 bits", makeCSR(tb, rsa1024, &x509.CertificateRequest{URIs: w})},
		{"no URI", ca.ReasonURISAN, "has 0 URI SANs", makeCSR(tb, key, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "web"}})},
		{"two URIs", ca.ReasonURISAN, "has 2 URI SANs", makeCSR(tb, key, &x509.CertificateRequest{URIs: []*url.URL{web.URL(), mustURL("spiffe://example.org/ns/default/sa/db")}})},
		{"DNS SAN", ca.ReasonOtherSAN, "has a DNS SAN", makeCSR(tb, key, &x509.CertificateRequest{URIs: w, DNSNames: []string{"web"}})},
		{"IP SAN", ca.ReasonOtherSAN, "has an IP SAN", makeCSR(tb, key, &x509.CertificateRequest{URIs: w, IPAddresses: []net.IP{net.IPv6loopback}})},
		{"e-mail SAN", ca.ReasonOtherSAN, "has an e-mail SAN", makeCSR(tb, key, &x509.CertificateRequest{URIs: w, EmailAddresses: []string{"a@example.org"}})},
		{"otherName SAN", ca.ReasonOtherSAN, "has an otherName SAN", makeCSR(tb, key, &x509.CertificateRequest{ExtraExtensions: []pkix.Extension{
			sanExt(tb, uriName(web.String()), asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: oid}),
		}})},
		{"registeredID SAN", ca.ReasonOtherSAN, "has a registeredID SAN", makeCSR(tb, key, &x509.CertificateRequest{ExtraExtensions: []pkix.Extension{
			sanExt(tb, asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 8, Bytes: oid[2:]}, uriName(web.String())),
		}})},
		{"duplicate SAN extension", ca.ReasonMalformed, "duplicate", makeCSR(tb, key, &x509.CertificateRequest{ExtraExtensions: []pkix.Extension{
			sanExt(tb, uriName(web.String())), sanExt(tb, uriName("spiffe://example.org/ns/default/sa/db")),
		}})},
		{"CA", ca.ReasonCA, "requests a CA certificate", makeCSR(tb, key, &x509.CertificateRequest{URIs: w, ExtraExtensions: []pkix.Extension{ext(asn1.ObjectIdentifier{2, 5, 29, 19}, isCA)}})},
		{"keyCertSign", ca.ReasonCA, "keyCertSign or cRLSign", makeCSR(tb, key, &x509.CertificateRequest{URIs: w, ExtraExtensions: []pkix.Extension{ext(asn1.ObjectIdentifier{2, 5, 29, 15}, certSign)}})},
		{"name constraints", ca.ReasonExtension, "requests extension 2.5.29.30", makeCSR(tb, key, &x509.CertificateRequest{URIs: w, ExtraExtensions: []pkix.Extension{ext(asn1.ObjectIdentifier{2, 5, 29, 30}, []byte{0x30, 0x00})}})},
		{"another ID", ca.ReasonIdentity, "is not the requested identity", makeCSR(tb, key, &x509.CertificateRequest{URIs: []*url.URL{mustURL("spiffe://example.org/ns/default/sa/db")}})},
		{"another trust domain", ca.ReasonIdentity, "is not the requested identity", makeCSR(tb, key, &x509.CertificateRequest{URIs: []*url.URL{mustURL("spiffe://other.org/ns/default/sa/web")}})},
		{"not SPIFFE", ca.ReasonIdentity, "is not a SPIFFE ID", makeCSR(tb, key, &x509.CertificateRequest{URIs: []*url.URL{mustURL("https://example.org/ns/default/sa/web")}})},
	}
}

func TestValidateCSR(t *testing.T) {
	for _, tc := range csrCases(t) {
		t.Run(tc.name, func(t *testing.T) {
			req, err := ca.ValidateCSR(tc.der, web)
			if tc.reason == "" {
				if err != nil {
					t.Fatal(err)
				}
				if req.URIs[0].String() != web.String() {
					t.Fatalf("URI %v", req.URIs[0])
				}
				return
			}
			var ce *ca.CSRError
			if !errors.As(err, &ce) || ce.Reason != tc.reason || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("got %v, want reason %s containing %q", err, tc.reason, tc.msg)
			}
		})
	}
}

// FuzzValidateCSR: no input panics, every refusal is a *CSRError, and
// whatever is accepted is a self-signed request for exactly web.
func FuzzValidateCSR(f *testing.F) {
	for _, tc := range csrCases(f) {
		f.Add(tc.der)
	}
	f.Fuzz(func(t *testing.T, der []byte) {
		req, err := ca.ValidateCSR(der, web)
		if err != nil {
			var ce *ca.CSRError
			if !errors.As(err, &ce) || ce.Reason == "" {
				t.Fatalf("refusal is not a CSRError with a reason: %v", err)
			}
			return
		}
		if len(req.URIs) != 1 || req.URIs[0].String() != web.String() || len(req.DNSNames)+len(req.IPAddresses)+len(req.EmailAddresses) != 0 {
			t.Fatalf("accepted SANs %v %v %v %v", req.URIs, req.DNSNames, req.IPAddresses, req.EmailAddresses)
		}
		if err := req.CheckSignature(); err != nil {
			t.Fatalf("accepted a bad signature: %v", err)
		}
	})
}
