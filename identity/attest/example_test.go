package attest_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/meshlite/meshlite/identity/attest"
)

// meshctl mints a join token with the join key; the identity service
// checks it with the public key.
func ExampleMintJoinToken() {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	id := spiffeid.RequireFromString("spiffe://example.org/ns/default/sa/web")
	token, err := attest.MintJoinToken(key, id, time.Hour, time.Now())
	if err != nil {
		fmt.Println(err)
		return
	}

	td := spiffeid.RequireTrustDomainFromString("example.org")
	j, _ := attest.NewJoinTokens(td, []crypto.PublicKey{key.Public()}, time.Now)
	a := attest.FirstOf(attest.Named{Name: "join", Attestor: j})
	proven, err := a.Attest(context.Background(), token)
	fmt.Println(proven, err)
	// Output: spiffe://example.org/ns/default/sa/web <nil>
}
