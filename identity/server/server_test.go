package server_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/rs/zerolog"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"k8s.io/client-go/rest"

	"github.com/meshlite/meshlite/identity/attest"
	"github.com/meshlite/meshlite/identity/ca"
	"github.com/meshlite/meshlite/identity/server"
	identityv1 "github.com/meshlite/meshlite/internal/api/identity/v1"
)

var (
	td  = spiffeid.RequireTrustDomainFromString("example.org")
	web = spiffeid.RequireFromString("spiffe://example.org/ns/default/sa/web")
	t0  = time.Date(2030, 6, 1, 12, 0, 0, 0, time.UTC)
)

type env struct {
	svc     *server.Service
	joinKey *ecdsa.PrivateKey
	metrics *server.Metrics
	logs    *strings.Builder
	clock   *time.Time
}

// newEnv is a service whose issuer lives from t0 for 48h, with a clock
// the test moves.
func newEnv(t *testing.T, att func(join attest.Attestor) attest.Attestor) *env {
	t.Helper()
	anchor, anchorKey, err := ca.NewAnchor(td, ca.DefaultAnchorLifetime, t0)
	if err != nil {
		t.Fatal(err)
	}
	issuer, issuerKey, err := ca.NewIssuer(td, anchor, anchorKey, 48*time.Hour, t0)
	if err != nil {
		t.Fatal(err)
	}
	auth, err := ca.NewAuthority(td, []*x509.Certificate{anchor}, []*x509.Certificate{issuer}, issuerKey, t0)
	if err != nil {
		t.Fatal(err)
	}
	jk, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	clock := t0
	now := func() time.Time { return clock }
	join, err := attest.NewJoinTokens(td, []crypto.PublicKey{jk.Public()}, now)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{joinKey: jk, metrics: server.NewMetrics(prometheus.NewRegistry()), logs: &strings.Builder{}, clock: &clock}
	e.svc = server.New(server.Config{
		TrustDomain: td,
		Authority:   func() *ca.Authority { return auth },
		Attestor:    att(join),
		Now:         now,
		Log:         zerolog.New(e.logs),
		Metrics:     e.metrics,
	})
	return e
}

func (e *env) certify(t *testing.T, token string) (*identityv1.CertifyResponse, error) {
	t.Helper()
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{URIs: []*url.URL{web.URL()}}, k)
	if err != nil {
		t.Fatal(err)
	}
	return e.svc.Certify(context.Background(), &identityv1.CertifyRequest{Identity: web.String(), Token: token, CertificateSigningRequest: der})
}

func TestClockAndIssuerExpiry(t *testing.T) {
	e := newEnv(t, func(j attest.Attestor) attest.Attestor { return j })
	// go-spiffe checks a token's expiry on the wall clock, the service
	// also on its own: a token valid for a century passes both until the
	// service's clock is moved past it.
	now := time.Now()
	*e.clock = t0.Add(time.Hour)
	tok, _ := attest.MintJoinToken(e.joinKey, web, 100*365*24*time.Hour, now)
	resp, err := e.certify(t, tok)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(resp.GetLeafCertificate())
	if !leaf.NotBefore.Equal(t0.Add(59*time.Minute)) || !leaf.NotAfter.Equal(t0.Add(25*time.Hour)) {
		t.Errorf("validity %v – %v, want from the injected clock", leaf.NotBefore, leaf.NotAfter)
	}
	// 30h later only 18h of issuer are left: the leaf is clipped.
	*e.clock = t0.Add(30 * time.Hour)
	resp, err = e.certify(t, tok)
	if err != nil {
		t.Fatal(err)
	}
	if got := resp.GetValidUntil().AsTime(); !got.Equal(t0.Add(48 * time.Hour)) {
		t.Errorf("valid_until %v, want the issuer's expiry", got)
	}
	// Past the issuer's expiry: UNAVAILABLE.
	*e.clock = t0.Add(49 * time.Hour)
	_, err = e.certify(t, tok)
	if st := status.Convert(err); st.Code() != codes.Unavailable || !strings.Contains(st.Message(), "issuer expired") {
		t.Fatalf("got %v", err)
	}
	if got := value(e.metrics.Issued); got != 2 {
		t.Errorf("issued %v, want 2", got)
	}
	if got := value(e.metrics.Refused.WithLabelValues(server.ReasonUnavailable)); got != 1 {
		t.Errorf("refused{unavailable} %v, want 1", got)
	}
	// An expired token, by the injected clock.
	*e.clock = now.Add(200 * 365 * 24 * time.Hour)
	_, err = e.certify(t, tok)
	if st := status.Convert(err); st.Code() != codes.Unauthenticated || !strings.Contains(st.Message(), "expired") {
		t.Fatalf("got %v", err)
	}
	if !strings.Contains(e.logs.String(), `"reason":"unauthenticated"`) {
		t.Errorf("no refusal log:\n%s", e.logs)
	}
}

// TestAttestorUnavailable: a Kubernetes API that cannot be reached makes
// the call UNAVAILABLE (try again), not UNAUTHENTICATED.
func TestAttestorUnavailable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	k, err := attest.NewKubernetes(&rest.Config{Host: "https://" + addr, Timeout: time.Second}, td, "")
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, func(j attest.Attestor) attest.Attestor {
		return attest.FirstOf(attest.Named{Name: "join", Attestor: j}, attest.Named{Name: "kubernetes", Attestor: k})
	})
	// A token that looks like a projected ServiceAccount token.
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: other}, nil)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := jwt.Signed(signer).Claims(jwt.Claims{
		Subject: "system:serviceaccount:default:web", Audience: jwt.Audience{attest.KubernetesAudience},
	}).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.certify(t, tok)
	if st := status.Convert(err); st.Code() != codes.Unavailable || !strings.Contains(st.Message(), "kubernetes token review") {
		t.Fatalf("got %v", err)
	}
}

// value reads a counter.
func value(c prometheus.Counter) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		return -1
	}
	return m.GetCounter().GetValue()
}
