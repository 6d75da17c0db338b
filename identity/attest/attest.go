package attest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

// Attestor decides which workload SPIFFE ID a token proves.
type Attestor interface {
	// Attest returns the ID token proves. Errors wrap ErrNotRecognized
	// (not this attestor's kind of token), ErrUnauthenticated (of this
	// kind, but it proves nothing: forged, expired, wrong audience) or
	// ErrUnavailable (it could not be checked now).
	Attest(ctx context.Context, token string) (spiffeid.ID, error)
}

// Errors an Attestor wraps.
var (
	ErrNotRecognized   = errors.New("attest: token not recognised")
	ErrUnauthenticated = errors.New("attest: token does not prove an identity")
	ErrUnavailable     = errors.New("attest: token cannot be checked now")
)

// Named is an Attestor with a name for messages.
type Named struct {
	Name string
	Attestor
}

// FirstOf returns an Attestor that asks each of as in order and returns
// the answer of the first that recognises the token. When none does, the
// error wraps ErrUnauthenticated and names them.
func FirstOf(as ...Named) Attestor { return firstOf(slices.Clone(as)) }

type firstOf []Named

func (f firstOf) Attest(ctx context.Context, token string) (spiffeid.ID, error) {
	names := make([]string, 0, len(f))
	for _, a := range f {
		id, err := a.Attest(ctx, token)
		if errors.Is(err, ErrNotRecognized) {
			names = append(names, a.Name)
			continue
		}
		return id, err
	}
	return spiffeid.ID{}, fmt.Errorf("%w: token is not one of: %s", ErrUnauthenticated, strings.Join(names, ", "))
}

// MaxTokenSize bounds a token's length.
const MaxTokenSize = 16 << 10

// audiences returns the unverified audience claim of a compact JWT, or an
// error wrapping ErrNotRecognized when token is not one.
func audiences(token string) ([]string, error) {
	if len(token) > MaxTokenSize {
		return nil, fmt.Errorf("%w: %d bytes, more than %d", ErrNotRecognized, len(token), MaxTokenSize)
	}
	tok, err := jwt.ParseSigned(token, []jose.SignatureAlgorithm{
		jose.ES256, jose.ES384, jose.ES512, jose.RS256, jose.RS384, jose.RS512, jose.PS256, jose.PS384, jose.PS512,
	})
	if err != nil {
		return nil, fmt.Errorf("%w: not a signed JWT", ErrNotRecognized)
	}
	var c jwt.Claims
	if err := tok.UnsafeClaimsWithoutVerification(&c); err != nil {
		return nil, fmt.Errorf("%w: unreadable JWT claims", ErrNotRecognized)
	}
	return c.Audience, nil
}
