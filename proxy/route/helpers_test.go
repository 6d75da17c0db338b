package route

import (
	"net/http"
	"net/http/httptest"
	"testing"

	destinationv1 "github.com/meshlite/meshlite/internal/api/destination/v1"
)

func exact(s string) *destinationv1.StringMatch {
	return &destinationv1.StringMatch{Kind: &destinationv1.StringMatch_Exact{Exact: s}}
}

func prefix(s string) *destinationv1.StringMatch {
	return &destinationv1.StringMatch{Kind: &destinationv1.StringMatch_Prefix{Prefix: s}}
}

func regex(s string) *destinationv1.StringMatch {
	return &destinationv1.StringMatch{Kind: &destinationv1.StringMatch_Regex{Regex: s}}
}

func key(name string, v *destinationv1.StringMatch) *destinationv1.KeyMatch {
	return &destinationv1.KeyMatch{Name: name, Value: v}
}

func to(subset string, weight uint32) *destinationv1.Backend {
	return &destinationv1.Backend{Subset: subset, Weight: weight}
}

func mustCompile(t testing.TB, p *destinationv1.Policy) *Table {
	t.Helper()
	tab, err := Compile(p)
	if err != nil {
		t.Fatal(err)
	}
	return tab
}

// req builds a request: target is the request target, hdr name/value
// pairs.
func req(method, target string, hdr ...string) *http.Request {
	r := httptest.NewRequest(method, target, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		if http.CanonicalHeaderKey(hdr[i]) == "Host" {
			r.Host = hdr[i+1]
			continue
		}
		r.Header.Add(hdr[i], hdr[i+1])
	}
	return r
}

// seedPolicy is the seed example: a header match to subset v2, then a
// 90/10 split between v1 and v2.
func seedPolicy() *destinationv1.Policy {
	return &destinationv1.Policy{
		Subsets: []*destinationv1.Subset{
			{Name: "v1", Labels: map[string]string{"version": "v1"}},
			{Name: "v2", Labels: map[string]string{"version": "v2"}},
		},
		HttpRoutes: []*destinationv1.HTTPRoute{
			{
				Name:     "jason",
				Matches:  []*destinationv1.HTTPMatch{{Headers: []*destinationv1.KeyMatch{key("end-user", exact("jason"))}}},
				Backends: []*destinationv1.Backend{to("v2", 0)},
			},
			{
				Name:     "split",
				Backends: []*destinationv1.Backend{to("v1", 90), to("v2", 10)},
			},
		},
	}
}
