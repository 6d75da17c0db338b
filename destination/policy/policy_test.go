package policy

import (
	"errors"
	"testing"

	destinationv1 "github.com/meshlite/meshlite/internal/api/destination/v1"
)

func TestTranslate(t *testing.T) {
	for _, tc := range []struct {
		name string
		ann  map[string]string
		want destinationv1.Balancer
		err  bool
	}{
		{"none", nil, destinationv1.Balancer_BALANCER_UNSPECIFIED, false},
		{"least-request", map[string]string{BalancerAnnotation: "least-request"}, destinationv1.Balancer_BALANCER_LEAST_REQUEST, false},
		{"case and space", map[string]string{BalancerAnnotation: " Round-Robin "}, destinationv1.Balancer_BALANCER_ROUND_ROBIN, false},
		{"unknown", map[string]string{BalancerAnnotation: "fastest"}, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Translate(Input{Annotations: tc.ann})
			if tc.err {
				var fe *FieldError
				if !errors.As(err, &fe) || !errors.Is(err, ErrInvalid) || fe.Field != "metadata.annotations[meshlite.io/balancer]" {
					t.Fatalf("err = %v, want a FieldError on the annotation", err)
				}
				return
			}
			if err != nil || p.GetBalancer() != tc.want {
				t.Fatalf("Translate = %v, %v; want %v", p, err, tc.want)
			}
		})
	}
}
