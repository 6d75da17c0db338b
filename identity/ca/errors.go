package ca

import "errors"

// ErrIssuerUnavailable is wrapped when the issuer cannot sign at the time
// asked: it has expired or is not valid yet.
var ErrIssuerUnavailable = errors.New("ca: issuer cannot sign now")

// ErrInvalidIssuer is wrapped by every reason an anchor, issuer certificate
// and key do not make a working authority.
var ErrInvalidIssuer = errors.New("ca: invalid issuer")

// CSR refusal reasons (CSRError.Reason): short, stable words for logs and
// tests.
const (
	ReasonMalformed = "malformed"     // not a DER PKCS #10 request, or too large
	ReasonSignature = "bad-signature" // the self-signature does not verify
	ReasonPublicKey = "public-key"    // key type or size not accepted
	ReasonURISAN    = "uri-san"       // not exactly one URI SAN
	ReasonOtherSAN  = "other-san"     // a DNS, IP, e-mail or other SAN
	ReasonCA        = "ca-request"    // asks for a CA or certificate-signing key
	ReasonExtension = "extension"     // an extension we do not accept
	ReasonIdentity  = "identity"      // the URI SAN is not the requested ID
)

// CSRError is a certificate signing request refused, with the reason.
type CSRError struct {
	// Reason is one of the Reason constants.
	Reason string
	// Detail says what exactly was wrong.
	Detail string
}

func (e *CSRError) Error() string { return "csr: " + e.Detail }
