package attest_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"k8s.io/client-go/rest"

	"github.com/meshlite/meshlite/identity/attest"
)

var (
	td  = spiffeid.RequireTrustDomainFromString("example.org")
	web = spiffeid.RequireFromString("spiffe://example.org/ns/default/sa/web")
)

func key(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func mint(t *testing.T, k *ecdsa.PrivateKey, id spiffeid.ID, ttl time.Duration, now time.Time) string {
	t.Helper()
	tok, err := attest.MintJoinToken(k, id, ttl, now)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// signed signs arbitrary claims with k (kid set), for tokens meshctl
// would never mint.
func signed(t *testing.T, k *ecdsa.PrivateKey, claims jwt.Claims) string {
	t.Helper()
	kid, err := attest.KeyID(k.Public())
	if err != nil {
		t.Fatal(err)
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: k, KeyID: kid}}, (&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := jwt.Signed(s).Claims(claims).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestJoinTokens(t *testing.T) {
	k, other := key(t), key(t)
	now := time.Now()
	clock := now
	j, err := attest.NewJoinTokens(td, []crypto.PublicKey{k.Public()}, func() time.Time { return clock })
	if err != nil {
		t.Fatal(err)
	}
	valid := mint(t, k, web, time.Hour, now)
	parts := strings.Split(valid, ".")
	dbTok := strings.Split(mint(t, k, spiffeid.RequireFromString("spiffe://example.org/ns/default/sa/db"), time.Hour, now), ".")

	for _, tc := range []struct {
		name  string
		token string
		clock time.Time
		want  error // nil: proves web
		msg   string
	}{
		{"valid", valid, now, nil, ""},
		{"valid near its end", valid, now.Add(59 * time.Minute), nil, ""},
		{"expired by the injected clock", valid, now.Add(time.Hour), attest.ErrUnauthenticated, "token has expired"},
		{"expired by the wall clock", mint(t, k, web, time.Minute, now.Add(-time.Hour)), now, attest.ErrUnauthenticated, "token has expired"},
		{"signed by another key", mint(t, other, web, time.Hour, now), now, attest.ErrUnauthenticated, "no JWT authority"},
		{"payload swapped", parts[0] + "." + dbTok[1] + "." + parts[2], now, attest.ErrUnauthenticated, "join token"},
		{"signature cut", parts[0] + "." + parts[1] + ".", now, attest.ErrUnauthenticated, "join token"},
		{"another trust domain", mint(t, k, spiffeid.RequireFromString("spiffe://other.org/ns/default/sa/web"), time.Hour, now), now, attest.ErrUnauthenticated, "no bundle found"},
		{"another audience", signed(t, k, jwt.Claims{Subject: web.String(), Audience: jwt.Audience{"identity.meshlite.io"}, Expiry: jwt.NewNumericDate(now.Add(time.Hour))}), now, attest.ErrNotRecognized, "audience"},
		{"no expiry", signed(t, k, jwt.Claims{Subject: web.String(), Audience: jwt.Audience{attest.JoinAudience}}), now, attest.ErrUnauthenticated, "missing exp"},
		{"not a JWT", "hello", now, attest.ErrNotRecognized, "not a signed JWT"},
		{"oversized", strings.Repeat("a", attest.MaxTokenSize+1), now, attest.ErrNotRecognized, "bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock = tc.clock
			id, err := j.Attest(context.Background(), tc.token)
			if tc.want == nil {
				if err != nil || id != web {
					t.Fatalf("got %v, %v; want %v", id, err, web)
				}
				return
			}
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("got %v; want %v containing %q", err, tc.want, tc.msg)
			}
		})
	}
}

func TestFirstOf(t *testing.T) {
	k := key(t)
	j, err := attest.NewJoinTokens(td, []crypto.PublicKey{k.Public()}, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	// The Kubernetes attestor does not recognise a join token (its
	// audience), so it passes it on without calling the API server.
	kube, err := attest.NewKubernetes(&rest.Config{Host: "https://127.0.0.1:1"}, td, "")
	if err != nil {
		t.Fatal(err)
	}
	a := attest.FirstOf(attest.Named{Name: "kubernetes", Attestor: kube}, attest.Named{Name: "join", Attestor: j})
	if id, err := a.Attest(context.Background(), mint(t, k, web, time.Hour, time.Now())); err != nil || id != web {
		t.Fatalf("got %v, %v", id, err)
	}
	_, err = a.Attest(context.Background(), "hello")
	if !errors.Is(err, attest.ErrUnauthenticated) || !strings.Contains(err.Error(), "token is not one of: kubernetes, join") {
		t.Fatalf("got %v", err)
	}
}

func TestJoinKeyFiles(t *testing.T) {
	dir := t.TempDir()
	if err := attest.CreateJoinKey(dir, false); err != nil {
		t.Fatal(err)
	}
	if err := attest.CreateJoinKey(dir, false); err == nil {
		t.Fatal("overwrote without force")
	}
	k, err := attest.LoadJoinKey(dir + "/" + attest.JoinKeyFile)
	if err != nil {
		t.Fatal(err)
	}
	j, err := attest.LoadJoinTokens(td, dir+"/"+attest.JoinPublicKeyFile, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := attest.MintJoinToken(k, web, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if id, err := j.Attest(context.Background(), tok); err != nil || id != web {
		t.Fatalf("got %v, %v", id, err)
	}
}
