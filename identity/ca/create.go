package ca

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/meshlite/meshlite/internal/spiffe"
)

// File names in a trust domain's directory.
const (
	AnchorCertFile = "anchor.crt"
	AnchorKeyFile  = "anchor.key"
	IssuerCertFile = "issuer.crt"
	IssuerKeyFile  = "issuer.key"
)

// Defaults of CreateOptions.
const (
	DefaultAnchorLifetime = 10 * 365 * 24 * time.Hour // 10 years
	DefaultIssuerLifetime = 365 * 24 * time.Hour      // 1 year
)

// Backdate is how far before "now" certificates start, for clock skew
// between the issuer and those who check.
const Backdate = time.Minute

// Paths are the files an authority is loaded from.
type Paths struct {
	Anchors    string // PEM, one or more anchors
	IssuerCert string // PEM, the issuer first, then any intermediates up to an anchor (excluded)
	IssuerKey  string // PEM, PKCS #8
}

// DefaultPaths are the paths of dir's anchor.crt, issuer.crt and issuer.key.
func DefaultPaths(dir string) Paths {
	return Paths{
		Anchors:    filepath.Join(dir, AnchorCertFile),
		IssuerCert: filepath.Join(dir, IssuerCertFile),
		IssuerKey:  filepath.Join(dir, IssuerKeyFile),
	}
}

// CreateOptions shape a new anchor and issuer.
type CreateOptions struct {
	TrustDomain    spiffeid.TrustDomain
	AnchorLifetime time.Duration // DefaultAnchorLifetime
	IssuerLifetime time.Duration // DefaultIssuerLifetime; clipped to the anchor's
	Now            time.Time     // time.Now()
	// Force overwrites existing files; without it Create refuses to.
	Force bool
}

func (o *CreateOptions) defaults() {
	if o.AnchorLifetime == 0 {
		o.AnchorLifetime = DefaultAnchorLifetime
	}
	if o.IssuerLifetime == 0 {
		o.IssuerLifetime = DefaultIssuerLifetime
	}
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
}

// NewAnchor makes a self-signed trust anchor for td with an ECDSA P-256
// key, valid from now-Backdate for lifetime. Its URI SAN is spiffe://<td>.
func NewAnchor(td spiffeid.TrustDomain, lifetime time.Duration, now time.Time) (*x509.Certificate, crypto.Signer, error) {
	tmpl, key, err := caTemplate(td, "meshlite trust anchor", lifetime, now)
	if err != nil {
		return nil, nil, err
	}
	cert, err := sign(tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, nil, err
	}
	return cert, key, nil
}

// NewIssuer makes an issuer (intermediate CA) for td with an ECDSA P-256
// key, signed by anchor. It may sign only leaves (path length 0) and
// expires no later than anchor.
func NewIssuer(td spiffeid.TrustDomain, anchor *x509.Certificate, anchorKey crypto.Signer, lifetime time.Duration, now time.Time) (*x509.Certificate, crypto.Signer, error) {
	tmpl, key, err := caTemplate(td, "meshlite issuer", lifetime, now)
	if err != nil {
		return nil, nil, err
	}
	if tmpl.NotAfter.After(anchor.NotAfter) {
		tmpl.NotAfter = anchor.NotAfter
	}
	tmpl.MaxPathLen, tmpl.MaxPathLenZero = 0, true
	cert, err := sign(tmpl, anchor, key.Public(), anchorKey)
	if err != nil {
		return nil, nil, err
	}
	return cert, key, nil
}

func caTemplate(td spiffeid.TrustDomain, name string, lifetime time.Duration, now time.Time) (*x509.Certificate, crypto.Signer, error) {
	if td.IsZero() {
		return nil, nil, errors.New("ca: empty trust domain")
	}
	if lifetime <= 0 {
		return nil, nil, fmt.Errorf("ca: lifetime must be positive, got %v", lifetime)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("ca: generate key: %w", err)
	}
	serial, err := randomSerial(rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	u := td.ID().URL()
	return &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{Organization: []string{"meshlite"}, CommonName: name + " " + td.Name()},
		NotBefore:             now.Add(-Backdate),
		NotAfter:              now.Add(lifetime),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		URIs:                  []*url.URL{u},
	}, key, nil
}

func sign(tmpl, parent *x509.Certificate, pub crypto.PublicKey, signer crypto.Signer) (*x509.Certificate, error) {
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
	if err != nil {
		return nil, fmt.Errorf("ca: sign %q: %w", tmpl.Subject.CommonName, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("ca: parse %q: %w", tmpl.Subject.CommonName, err)
	}
	return cert, nil
}

// randomSerial is a random positive 128-bit serial number.
func randomSerial(r interface{ Read([]byte) (int, error) }) (*big.Int, error) {
	b := make([]byte, 16)
	for {
		if _, err := r.Read(b); err != nil {
			return nil, fmt.Errorf("ca: serial: %w", err)
		}
		if n := new(big.Int).SetBytes(b); n.Sign() > 0 {
			return n, nil
		}
	}
}

// Create writes a fresh anchor and issuer for o.TrustDomain into dir
// (created 0700 if missing): anchor.crt and issuer.crt mode 0644,
// anchor.key and issuer.key mode 0600. Without o.Force it refuses to
// overwrite any of them.
func Create(dir string, o CreateOptions) error {
	o.defaults()
	files := []string{AnchorCertFile, AnchorKeyFile, IssuerCertFile, IssuerKeyFile}
	if err := prepareDir(dir, files, o.Force); err != nil {
		return err
	}
	anchor, anchorKey, err := NewAnchor(o.TrustDomain, o.AnchorLifetime, o.Now)
	if err != nil {
		return err
	}
	if err := writePair(dir, AnchorCertFile, AnchorKeyFile, anchor, anchorKey); err != nil {
		return err
	}
	return newIssuerFiles(dir, o.TrustDomain, anchor, anchorKey, o.IssuerLifetime, o.Now)
}

// RotateIssuer replaces dir's issuer.crt and issuer.key with a new issuer
// signed by dir's anchor (anchor.crt, anchor.key). A running identity
// service picks the new pair up by itself. Each file is replaced
// atomically; the service refuses the brief moment where only one is new.
func RotateIssuer(dir string, td spiffeid.TrustDomain, lifetime time.Duration, now time.Time) error {
	if lifetime == 0 {
		lifetime = DefaultIssuerLifetime
	}
	if now.IsZero() {
		now = time.Now()
	}
	certPEM, err := os.ReadFile(filepath.Join(dir, AnchorCertFile))
	if err != nil {
		return fmt.Errorf("ca: %w", err)
	}
	anchors, err := spiffe.ParseCertificates(certPEM)
	if err != nil {
		return fmt.Errorf("ca: %s: %w", AnchorCertFile, err)
	}
	keyPEM, err := os.ReadFile(filepath.Join(dir, AnchorKeyFile))
	if err != nil {
		return fmt.Errorf("ca: %w", err)
	}
	key, err := spiffe.ParsePrivateKey(keyPEM)
	if err != nil {
		return fmt.Errorf("ca: %s: %w", AnchorKeyFile, err)
	}
	return newIssuerFiles(dir, td, anchors[0], key, lifetime, now)
}

func newIssuerFiles(dir string, td spiffeid.TrustDomain, anchor *x509.Certificate, anchorKey crypto.Signer, lifetime time.Duration, now time.Time) error {
	issuer, key, err := NewIssuer(td, anchor, anchorKey, lifetime, now)
	if err != nil {
		return err
	}
	// writePair writes the key first: a reader seeing the new key with the
	// old certificate refuses the pair and keeps its issuer until the
	// certificate follows.
	return writePair(dir, IssuerCertFile, IssuerKeyFile, issuer, key)
}

func writePair(dir, certFile, keyFile string, cert *x509.Certificate, key crypto.Signer) error {
	keyPEM, err := spiffe.EncodePrivateKey(key)
	if err != nil {
		return err
	}
	if err := spiffe.WriteFileAtomic(filepath.Join(dir, keyFile), keyPEM, 0o600); err != nil {
		return err
	}
	return spiffe.WriteFileAtomic(filepath.Join(dir, certFile), spiffe.EncodeCertificates(cert), 0o644)
}

// prepareDir makes dir and, unless force, checks none of files exists.
func prepareDir(dir string, files []string, force bool) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("ca: %w", err)
	}
	if force {
		return nil
	}
	for _, f := range files {
		p := filepath.Join(dir, f)
		if _, err := os.Stat(p); err == nil {
			return fmt.Errorf("ca: %s exists (use force to overwrite)", p)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("ca: %w", err)
		}
	}
	return nil
}
