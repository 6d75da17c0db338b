package peers

import (
	"crypto/tls"
	"crypto/x509"
	"testing"
	"time"
)

// TestCertsMutualTLS checks that the generated PKI carries a real mutual
// TLS handshake, with the server name verified.
func TestCertsMutualTLS(t *testing.T) {
	c, err := NewCerts(time.Now(), ServerName)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(c.CA) {
		t.Fatal("bad CA PEM")
	}
	srvPair, err := tls.X509KeyPair(c.ServerCert, c.ServerKey)
	if err != nil {
		t.Fatal(err)
	}
	cliPair, err := tls.X509KeyPair(c.ClientCert, c.ClientKey)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{srvPair}, ClientCAs: pool, ClientAuth: tls.RequireAndVerifyClientCert})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	type result struct {
		peer string
		err  error
	}
	res := make(chan result, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			res <- result{err: err}
			return
		}
		defer c.Close()
		tc := c.(*tls.Conn)
		if err := tc.Handshake(); err != nil {
			res <- result{err: err}
			return
		}
		res <- result{peer: tc.ConnectionState().PeerCertificates[0].Subject.CommonName}
	}()
	cli, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{Certificates: []tls.Certificate{cliPair}, RootCAs: pool, ServerName: ServerName})
	if err != nil {
		t.Fatalf("client handshake: %v", err)
	}
	defer cli.Close()
	r := <-res
	if r.err != nil {
		t.Fatalf("server handshake: %v", r.err)
	}
	if r.peer != "client.bench" {
		t.Errorf("client identity %q", r.peer)
	}
}

func TestWriteFiles(t *testing.T) {
	c, err := NewCerts(time.Now(), ServerName)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := c.WriteFiles(dir); err != nil {
		t.Fatal(err)
	}
	for _, side := range []string{"server", "client"} {
		if _, err := tls.LoadX509KeyPair(dir+"/"+side+".pem", dir+"/"+side+".pem"); err != nil {
			t.Errorf("%s.pem (cert and key in one file, for HAProxy): %v", side, err)
		}
		if _, err := tls.LoadX509KeyPair(dir+"/"+side+".crt", dir+"/"+side+".key"); err != nil {
			t.Errorf("%s.crt/.key: %v", side, err)
		}
	}
}
