package policy

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	destinationv1 "github.com/meshlite/meshlite/internal/api/destination/v1"
)

// BalancerAnnotation chooses a service's load balancer.
const BalancerAnnotation = "meshlite.io/balancer"

// ErrInvalid is wrapped by every translation error.
var ErrInvalid = errors.New("policy: invalid")

// FieldError is a translation error about one field of the input, named
// by its path in the document (e.g. "metadata.annotations[meshlite.io/balancer]").
type FieldError struct {
	Field string
	Msg   string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Msg }

// Unwrap makes every FieldError an ErrInvalid.
func (e *FieldError) Unwrap() error { return ErrInvalid }

// Input is what a service's policy is made from.
type Input struct {
	// Annotations are the Service's metadata.annotations.
	Annotations map[string]string
}

// balancers maps annotation values to balancers; case is ignored and "_"
// reads as "-", so Istio's names (LEAST_CONN, ROUND_ROBIN) work as written.
var balancers = map[string]destinationv1.Balancer{
	"peak-ewma":            destinationv1.Balancer_BALANCER_PEAK_EWMA,
	"least-request":        destinationv1.Balancer_BALANCER_LEAST_REQUEST,
	"least-conn":           destinationv1.Balancer_BALANCER_LEAST_REQUEST, // Istio's alias
	"round-robin":          destinationv1.Balancer_BALANCER_ROUND_ROBIN,
	"weighted-round-robin": destinationv1.Balancer_BALANCER_WEIGHTED_ROUND_ROBIN,
	"random":               destinationv1.Balancer_BALANCER_RANDOM,
	"passthrough":          destinationv1.Balancer_BALANCER_PASSTHROUGH,
}

// BalancerNames lists the values BalancerAnnotation accepts, sorted.
func BalancerNames() []string {
	names := make([]string, 0, len(balancers))
	for n := range balancers {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Translate makes the policy for one service. Without any input the
// policy is the default (BALANCER_UNSPECIFIED: the proxy's own default).
// A value it cannot use is a *FieldError.
func Translate(in Input) (*destinationv1.Policy, error) {
	p := &destinationv1.Policy{}
	if v, ok := in.Annotations[BalancerAnnotation]; ok {
		b, ok := balancers[strings.ReplaceAll(strings.ToLower(strings.TrimSpace(v)), "_", "-")]
		if !ok {
			return nil, &FieldError{
				Field: "metadata.annotations[" + BalancerAnnotation + "]",
				Msg:   fmt.Sprintf("unknown balancer %q (want one of %s)", v, strings.Join(BalancerNames(), ", ")),
			}
		}
		p.Balancer = b
	}
	return p, nil
}
