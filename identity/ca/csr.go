package ca

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"fmt"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

// MaxCSRSize bounds the DER encoding of a certificate signing request.
const MaxCSRSize = 8 << 10

var (
	oidSubjectKeyID     = asn1.ObjectIdentifier{2, 5, 29, 14}
	oidKeyUsage         = asn1.ObjectIdentifier{2, 5, 29, 15}
	oidSubjectAltName   = asn1.ObjectIdentifier{2, 5, 29, 17}
	oidBasicConstraints = asn1.ObjectIdentifier{2, 5, 29, 19}
	oidExtKeyUsage      = asn1.ObjectIdentifier{2, 5, 29, 37}
)

// GeneralName tags (RFC 5280, section 4.2.1.6).
var sanKinds = map[int]string{
	0: "an otherName", 1: "an e-mail", 2: "a DNS", 3: "an x400Address",
	4: "a directoryName", 5: "an ediPartyName", 7: "an IP", 8: "a registeredID",
}

// ValidateCSR parses a DER PKCS #10 request and accepts it only if it is a
// request for exactly the SVID want:
//
//   - its self-signature verifies;
//   - its key is ECDSA P-256 or P-384, Ed25519, or RSA of 2048 to 8192 bits;
//   - its subject alternative names are exactly one URI, equal to want:
//     no DNS, IP, e-mail or other name;
//   - it does not ask for a CA (basicConstraints CA=true, keyCertSign or
//     cRLSign key usage) nor any extension but subjectAltName,
//     basicConstraints, keyUsage, extKeyUsage and subjectKeyIdentifier
//     (whose values are ignored: the issued leaf has its own).
//
// The subject is ignored. A refusal is a *CSRError.
func ValidateCSR(der []byte, want spiffeid.ID) (*x509.CertificateRequest, error) {
	if len(der) == 0 {
		return nil, &CSRError{ReasonMalformed, "empty certificate signing request"}
	}
	if len(der) > MaxCSRSize {
		return nil, &CSRError{ReasonMalformed, fmt.Sprintf("certificate signing request of %d bytes is larger than %d", len(der), MaxCSRSize)}
	}
	req, err := x509.ParseCertificateRequest(der)
	if err != nil {
		return nil, &CSRError{ReasonMalformed, fmt.Sprintf("not a DER PKCS #10 certificate signing request: %v", err)}
	}
	if err := req.CheckSignature(); err != nil {
		return nil, &CSRError{ReasonSignature, fmt.Sprintf("self-signature does not verify: %v", err)}
	}
	if err := checkPublicKey(req.PublicKey); err != nil {
		return nil, err
	}
	if err := checkExtensions(req); err != nil {
		return nil, err
	}
	got, err := spiffeid.FromURI(req.URIs[0])
	if err != nil {
		return nil, &CSRError{ReasonIdentity, fmt.Sprintf("URI SAN %q is not a SPIFFE ID: %v", req.URIs[0], err)}
	}
	if got != want {
		return nil, &CSRError{ReasonIdentity, fmt.Sprintf("URI SAN %q is not the requested identity %q", got, want)}
	}
	return req, nil
}

func checkPublicKey(pub any) error {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		if k.Curve == elliptic.P256() || k.Curve == elliptic.P384() {
			return nil
		}
		return &CSRError{ReasonPublicKey, fmt.Sprintf("ECDSA curve %s not accepted (P-256 or P-384)", k.Curve.Params().Name)}
	case ed25519.PublicKey:
		return nil
	case *rsa.PublicKey:
		if n := k.N.BitLen(); n < 2048 || n > 8192 {
			return &CSRError{ReasonPublicKey, fmt.Sprintf("RSA key of %d bits not accepted (2048 to 8192)", n)}
		}
		return nil
	default:
		return &CSRError{ReasonPublicKey, fmt.Sprintf("public key of type %T not accepted", pub)}
	}
}

// checkExtensions walks the requested extensions themselves rather than
// trusting x509's parsed fields, which skip SAN kinds they do not know.
func checkExtensions(req *x509.CertificateRequest) error {
	seen := map[string]bool{}
	uris := 0
	for _, ext := range req.Extensions {
		if seen[ext.Id.String()] {
			return &CSRError{ReasonMalformed, fmt.Sprintf("extension %s appears twice", ext.Id)}
		}
		seen[ext.Id.String()] = true
		switch {
		case ext.Id.Equal(oidSubjectAltName):
			n, err := checkSANs(ext.Value)
			if err != nil {
				return err
			}
			uris = n
		case ext.Id.Equal(oidBasicConstraints):
			var bc struct {
				IsCA       bool `asn1:"optional"`
				MaxPathLen int  `asn1:"optional,default:-1"`
			}
			if rest, err := asn1.Unmarshal(ext.Value, &bc); err != nil || len(rest) > 0 {
				return &CSRError{ReasonMalformed, "malformed basicConstraints extension"}
			}
			if bc.IsCA {
				return &CSRError{ReasonCA, "requests a CA certificate (basicConstraints CA=true); only leaf certificates are issued"}
			}
		case ext.Id.Equal(oidKeyUsage):
			var ku asn1.BitString
			if rest, err := asn1.Unmarshal(ext.Value, &ku); err != nil || len(rest) > 0 {
				return &CSRError{ReasonMalformed, "malformed keyUsage extension"}
			}
			if ku.At(5) == 1 || ku.At(6) == 1 {
				return &CSRError{ReasonCA, "requests keyCertSign or cRLSign key usage; only leaf certificates are issued"}
			}
		case ext.Id.Equal(oidExtKeyUsage), ext.Id.Equal(oidSubjectKeyID):
			// Accepted and ignored: the leaf gets its own.
		default:
			return &CSRError{ReasonExtension, fmt.Sprintf("requests extension %s, which is not accepted", ext.Id)}
		}
	}
	if uris != 1 || len(req.URIs) != 1 {
		return &CSRError{ReasonURISAN, fmt.Sprintf("has %d URI SANs, want exactly one: the requested SPIFFE ID", max(uris, len(req.URIs)))}
	}
	return nil
}

// checkSANs counts the URI names of a subjectAltName value and refuses
// any other kind of name.
func checkSANs(value []byte) (uris int, err error) {
	var names []asn1.RawValue
	if rest, err := asn1.Unmarshal(value, &names); err != nil || len(rest) > 0 {
		return 0, &CSRError{ReasonMalformed, "malformed subjectAltName extension"}
	}
	for _, n := range names {
		if n.Class != asn1.ClassContextSpecific {
			return 0, &CSRError{ReasonMalformed, "malformed subjectAltName extension"}
		}
		if n.Tag == 6 {
			uris++
			continue
		}
		kind, ok := sanKinds[n.Tag]
		if !ok {
			kind = fmt.Sprintf("a [%d]", n.Tag)
		}
		return 0, &CSRError{ReasonOtherSAN, fmt.Sprintf("has %s SAN; only one URI SAN, the requested SPIFFE ID, is allowed", kind)}
	}
	return uris, nil
}
