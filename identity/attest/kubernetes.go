package attest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	authv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	authv1client "k8s.io/client-go/kubernetes/typed/authentication/v1"
	"k8s.io/client-go/rest"

	"github.com/meshlite/meshlite/internal/spiffe"
)

// KubernetesAudience is the audience proxies request for their projected
// ServiceAccount token.
const KubernetesAudience = "identity.meshlite.io"

// ReviewTimeout bounds one TokenReview call.
const ReviewTimeout = 10 * time.Second

// serviceAccountPrefix starts the username of a ServiceAccount.
const serviceAccountPrefix = "system:serviceaccount:"

// Kubernetes checks projected ServiceAccount tokens with the TokenReview
// API (authentication.k8s.io/v1). The identity service's own
// ServiceAccount needs permission to create tokenreviews
// (ClusterRole system:auth-delegator gives it).
type Kubernetes struct {
	td       spiffeid.TrustDomain
	audience string
	reviews  authv1client.TokenReviewInterface
}

var _ Attestor = (*Kubernetes)(nil)

// NewKubernetes returns an attestor for trust domain td that reviews
// tokens with the API server cfg points at and requires audience
// (KubernetesAudience when empty).
func NewKubernetes(cfg *rest.Config, td spiffeid.TrustDomain, audience string) (*Kubernetes, error) {
	if audience == "" {
		audience = KubernetesAudience
	}
	c, err := authv1client.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("attest: kubernetes client: %w", err)
	}
	return &Kubernetes{td: td, audience: audience, reviews: c.TokenReviews()}, nil
}

// Attest reviews a token whose (unverified) audience includes the
// attestor's; other tokens are ErrNotRecognized. The API server decides
// whether it is valid for that audience; its username
// system:serviceaccount:NS:SA proves spiffe://<td>/ns/NS/sa/SA.
func (k *Kubernetes) Attest(ctx context.Context, token string) (spiffeid.ID, error) {
	aud, err := audiences(token)
	if err != nil {
		return spiffeid.ID{}, err
	}
	if !slices.Contains(aud, k.audience) {
		return spiffeid.ID{}, fmt.Errorf("%w: audience %q does not include %q", ErrNotRecognized, aud, k.audience)
	}
	ctx, cancel := context.WithTimeout(ctx, ReviewTimeout)
	defer cancel()
	rev, err := k.reviews.Create(ctx, &authv1.TokenReview{
		Spec: authv1.TokenReviewSpec{Token: token, Audiences: []string{k.audience}},
	}, metav1.CreateOptions{})
	if err != nil {
		return spiffeid.ID{}, fmt.Errorf("%w: kubernetes token review: %w", ErrUnavailable, err)
	}
	st := rev.Status
	if !st.Authenticated {
		msg := st.Error
		if msg == "" {
			msg = "not authenticated"
		}
		return spiffeid.ID{}, fmt.Errorf("%w: kubernetes token review: %s", ErrUnauthenticated, msg)
	}
	if !slices.Contains(st.Audiences, k.audience) {
		return spiffeid.ID{}, fmt.Errorf("%w: kubernetes token review: token audiences %q do not include %q", ErrUnauthenticated, st.Audiences, k.audience)
	}
	user := st.User.Username
	nsSA, ok := strings.CutPrefix(user, serviceAccountPrefix)
	ns, sa, ok2 := strings.Cut(nsSA, ":")
	if !ok || !ok2 {
		return spiffeid.ID{}, fmt.Errorf("%w: kubernetes token review: %q is not a ServiceAccount", ErrUnauthenticated, user)
	}
	id, err := spiffe.WorkloadID(k.td, ns, sa)
	if err != nil {
		return spiffeid.ID{}, fmt.Errorf("%w: kubernetes token review: %w", ErrUnauthenticated, err)
	}
	return id, nil
}
