package peers

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"time"
)

// Certs is a throwaway PKI for one bench run: a CA and a server and a
// client certificate it signed, all ECDSA P-256, as PEM.
type Certs struct {
	CA                    []byte
	ServerCert, ServerKey []byte
	ClientCert, ClientKey []byte
}

// certLifetime is how long the certificates are valid from now.
const certLifetime = 24 * time.Hour

// NewCerts makes a CA and two leaf certificates valid from now (minus a
// minute of clock skew) for a day: the server's for serverName (DNS SAN),
// the client's for "client.bench".
func NewCerts(now time.Time, serverName string) (*Certs, error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("peers: ca key: %w", err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "meshlite bench CA"},
		NotBefore:             now.Add(-time.Minute),
		NotAfter:              now.Add(certLifetime),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, fmt.Errorf("peers: ca certificate: %w", err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, fmt.Errorf("peers: ca certificate: %w", err)
	}
	c := &Certs{CA: pemBlock("CERTIFICATE", caDER)}
	leaf := func(serial int64, name string, usage x509.ExtKeyUsage) (certPEM, keyPEM []byte, err error) {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, nil, fmt.Errorf("peers: %s key: %w", name, err)
		}
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial),
			Subject:      pkix.Name{CommonName: name},
			DNSNames:     []string{name},
			NotBefore:    now.Add(-time.Minute),
			NotAfter:     now.Add(certLifetime),
			KeyUsage:     x509.KeyUsageDigitalSignature,
			ExtKeyUsage:  []x509.ExtKeyUsage{usage},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			return nil, nil, fmt.Errorf("peers: %s certificate: %w", name, err)
		}
		kder, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			return nil, nil, fmt.Errorf("peers: %s key: %w", name, err)
		}
		return pemBlock("CERTIFICATE", der), pemBlock("PRIVATE KEY", kder), nil
	}
	if c.ServerCert, c.ServerKey, err = leaf(2, serverName, x509.ExtKeyUsageServerAuth); err != nil {
		return nil, err
	}
	if c.ClientCert, c.ClientKey, err = leaf(3, "client.bench", x509.ExtKeyUsageClientAuth); err != nil {
		return nil, err
	}
	return c, nil
}

func pemBlock(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

// WriteFiles writes ca.pem, server.crt, server.key, client.crt,
// client.key, and server.pem and client.pem (certificate then key, as
// HAProxy's crt wants) into dir. The files are world-readable: the peers
// run as an unprivileged uid, and the keys are thrown away after the run.
func (c *Certs) WriteFiles(dir string) error {
	files := map[string][]byte{
		"ca.pem":     c.CA,
		"server.crt": c.ServerCert, "server.key": c.ServerKey,
		"client.crt": c.ClientCert, "client.key": c.ClientKey,
		"server.pem": append(append([]byte{}, c.ServerCert...), c.ServerKey...),
		"client.pem": append(append([]byte{}, c.ClientCert...), c.ClientKey...),
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			return fmt.Errorf("peers: write %s: %w", name, err)
		}
	}
	return nil
}
