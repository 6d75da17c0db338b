package spiffe

import (
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// PEM block types meshlite reads and writes.
const (
	pemCertificate = "CERTIFICATE"
	pemPrivateKey  = "PRIVATE KEY"
	pemPublicKey   = "PUBLIC KEY"
)

// EncodeCertificates returns certs as concatenated CERTIFICATE blocks.
func EncodeCertificates(certs ...*x509.Certificate) []byte {
	var out []byte
	for _, c := range certs {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: pemCertificate, Bytes: c.Raw})...)
	}
	return out
}

// ParseCertificates parses every CERTIFICATE block of data, in order.
// Other blocks are an error; so is finding none.
func ParseCertificates(data []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		if b.Type != pemCertificate {
			return nil, fmt.Errorf("spiffe: unexpected PEM block %q, want %q", b.Type, pemCertificate)
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("spiffe: parse certificate: %w", err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, errors.New("spiffe: no CERTIFICATE PEM block found")
	}
	return certs, nil
}

// EncodePrivateKey returns key as one PKCS #8 PRIVATE KEY block.
func EncodePrivateKey(key crypto.Signer) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("spiffe: marshal private key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: pemPrivateKey, Bytes: der}), nil
}

// ParsePrivateKey parses the first PKCS #8 PRIVATE KEY block of data.
func ParsePrivateKey(data []byte) (crypto.Signer, error) {
	b, _ := pem.Decode(data)
	if b == nil || b.Type != pemPrivateKey {
		return nil, fmt.Errorf("spiffe: no %q PEM block found", pemPrivateKey)
	}
	k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
	if err != nil {
		return nil, fmt.Errorf("spiffe: parse private key: %w", err)
	}
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("spiffe: private key of type %T cannot sign", k)
	}
	return s, nil
}

// EncodePublicKeys returns keys as PKIX PUBLIC KEY blocks.
func EncodePublicKeys(keys ...crypto.PublicKey) ([]byte, error) {
	var out []byte
	for _, k := range keys {
		der, err := x509.MarshalPKIXPublicKey(k)
		if err != nil {
			return nil, fmt.Errorf("spiffe: marshal public key: %w", err)
		}
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: pemPublicKey, Bytes: der})...)
	}
	return out, nil
}

// ParsePublicKeys parses every PKIX PUBLIC KEY block of data. Other blocks
// are an error; so is finding none.
func ParsePublicKeys(data []byte) ([]crypto.PublicKey, error) {
	var keys []crypto.PublicKey
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		if b.Type != pemPublicKey {
			return nil, fmt.Errorf("spiffe: unexpected PEM block %q, want %q", b.Type, pemPublicKey)
		}
		k, err := x509.ParsePKIXPublicKey(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("spiffe: parse public key: %w", err)
		}
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("spiffe: no %q PEM block found", pemPublicKey)
	}
	return keys, nil
}

// WriteFileAtomic writes data to path with mode perm by writing a
// temporary file in the same directory and renaming it over path, so a
// reader sees the old or the new content, never a part.
func WriteFileAtomic(path string, data []byte, perm os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("spiffe: write %s: %w", path, err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) //nolint:errcheck // gone after a successful rename
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return fmt.Errorf("spiffe: write %s: %w", path, err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("spiffe: write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("spiffe: write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("spiffe: write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("spiffe: write %s: %w", path, err)
	}
	return nil
}
