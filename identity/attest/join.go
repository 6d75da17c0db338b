package attest

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/spiffe/go-spiffe/v2/bundle/jwtbundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/jwtsvid"

	"github.com/meshlite/meshlite/internal/spiffe"
)

// JoinAudience is the audience of every join token.
const JoinAudience = "meshlite-identity"

// Join key files in a trust domain's directory.
const (
	JoinKeyFile       = "join.key" // PKCS #8 ECDSA P-256 private key, mode 0600: mints tokens
	JoinPublicKeyFile = "join.pub" // PKIX public key(s): the identity service checks tokens with them
)

// JoinTokens checks join tokens. It is safe for concurrent use.
type JoinTokens struct {
	td     spiffeid.TrustDomain
	bundle *jwtbundle.Bundle
	now    func() time.Time
}

var _ Attestor = (*JoinTokens)(nil)

// NewJoinTokens accepts tokens for workload IDs in td signed by any of
// keys. now is the clock expiry is checked with (time.Now in production;
// go-spiffe also checks expiry on the wall clock, with a minute's leeway).
func NewJoinTokens(td spiffeid.TrustDomain, keys []crypto.PublicKey, now func() time.Time) (*JoinTokens, error) {
	if len(keys) == 0 {
		return nil, errors.New("attest: no join public key")
	}
	authorities := map[string]crypto.PublicKey{}
	for _, k := range keys {
		kid, err := KeyID(k)
		if err != nil {
			return nil, err
		}
		authorities[kid] = k
	}
	return &JoinTokens{td: td, bundle: jwtbundle.FromJWTAuthorities(td, authorities), now: now}, nil
}

// LoadJoinTokens is NewJoinTokens with the PEM public keys in path.
func LoadJoinTokens(td spiffeid.TrustDomain, path string, now func() time.Time) (*JoinTokens, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("attest: join public keys: %w", err)
	}
	keys, err := spiffe.ParsePublicKeys(data)
	if err != nil {
		return nil, fmt.Errorf("attest: join public keys %s: %w", path, err)
	}
	return NewJoinTokens(td, keys, now)
}

// Attest checks a join token: a JWT whose audience includes JoinAudience
// (others are ErrNotRecognized), signed by a join key, not expired, whose
// subject is a SPIFFE ID in the trust domain.
func (j *JoinTokens) Attest(_ context.Context, token string) (spiffeid.ID, error) {
	aud, err := audiences(token)
	if err != nil {
		return spiffeid.ID{}, err
	}
	if !slices.Contains(aud, JoinAudience) {
		return spiffeid.ID{}, fmt.Errorf("%w: audience %q is not %q", ErrNotRecognized, aud, JoinAudience)
	}
	svid, err := jwtsvid.ParseAndValidate(token, j.bundle, []string{JoinAudience})
	if err != nil {
		return spiffeid.ID{}, fmt.Errorf("%w: join token: %w", ErrUnauthenticated, err)
	}
	if now := j.now(); !now.Before(svid.Expiry) {
		return spiffeid.ID{}, fmt.Errorf("%w: join token: token has expired (at %s)", ErrUnauthenticated, svid.Expiry.Format(time.RFC3339))
	}
	return svid.ID, nil
}

// KeyID is the key ID of a join public key: its RFC 7638 JWK thumbprint
// (SHA-256), base64url without padding.
func KeyID(pub crypto.PublicKey) (string, error) {
	t, err := (&jose.JSONWebKey{Key: pub}).Thumbprint(crypto.SHA256)
	if err != nil {
		return "", fmt.Errorf("attest: key id: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(t), nil
}

// MintJoinToken returns a join token proving id, valid from now for ttl,
// signed with key (an ECDSA P-256 key: ES256).
func MintJoinToken(key crypto.Signer, id spiffeid.ID, ttl time.Duration, now time.Time) (string, error) {
	if id.IsZero() {
		return "", errors.New("attest: join token for an empty ID")
	}
	if ttl <= 0 {
		return "", fmt.Errorf("attest: join token ttl must be positive, got %v", ttl)
	}
	ek, ok := key.(*ecdsa.PrivateKey)
	if !ok || ek.Curve != elliptic.P256() {
		return "", fmt.Errorf("attest: join key must be ECDSA P-256, got %T", key)
	}
	kid, err := KeyID(key.Public())
	if err != nil {
		return "", err
	}
	signer, err := jose.NewSigner(
		jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: key, KeyID: kid}},
		(&jose.SignerOptions{}).WithType("JWT"),
	)
	if err != nil {
		return "", fmt.Errorf("attest: join token signer: %w", err)
	}
	jti := make([]byte, 16)
	if _, err := rand.Read(jti); err != nil {
		return "", fmt.Errorf("attest: join token id: %w", err)
	}
	claims := jwt.Claims{
		Subject:   id.String(),
		Audience:  jwt.Audience{JoinAudience},
		Expiry:    jwt.NewNumericDate(now.Add(ttl)),
		IssuedAt:  jwt.NewNumericDate(now),
		NotBefore: jwt.NewNumericDate(now),
		ID:        hex.EncodeToString(jti),
	}
	tok, err := jwt.Signed(signer).Claims(claims).Serialize()
	if err != nil {
		return "", fmt.Errorf("attest: sign join token: %w", err)
	}
	return tok, nil
}

// CreateJoinKey writes a new ECDSA P-256 join key into dir: JoinKeyFile
// (mode 0600) and JoinPublicKeyFile (0644). Without force it refuses to
// overwrite either.
func CreateJoinKey(dir string, force bool) error {
	priv, pub := filepath.Join(dir, JoinKeyFile), filepath.Join(dir, JoinPublicKeyFile)
	if !force {
		for _, p := range []string{priv, pub} {
			if _, err := os.Stat(p); err == nil {
				return fmt.Errorf("attest: %s exists (use force to overwrite)", p)
			} else if !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("attest: %w", err)
			}
		}
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("attest: generate join key: %w", err)
	}
	keyPEM, err := spiffe.EncodePrivateKey(key)
	if err != nil {
		return err
	}
	pubPEM, err := spiffe.EncodePublicKeys(key.Public())
	if err != nil {
		return err
	}
	if err := spiffe.WriteFileAtomic(priv, keyPEM, 0o600); err != nil {
		return err
	}
	return spiffe.WriteFileAtomic(pub, pubPEM, 0o644)
}

// LoadJoinKey reads a join signing key (PKCS #8 PEM).
func LoadJoinKey(path string) (crypto.Signer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("attest: join key: %w", err)
	}
	k, err := spiffe.ParsePrivateKey(data)
	if err != nil {
		return nil, fmt.Errorf("attest: join key %s: %w", path, err)
	}
	return k, nil
}
