package route

import (
	"fmt"
	"testing"

	destinationv1 "github.com/meshlite/meshlite/internal/api/destination/v1"
)

// manyRoutes is 20 routes, most with a regex on the path and a header;
// the request matches the last.
func manyRoutes() *destinationv1.Policy {
	p := &destinationv1.Policy{Subsets: []*destinationv1.Subset{{Name: "v1"}, {Name: "v2"}}}
	for i := range 19 {
		p.HttpRoutes = append(p.HttpRoutes, &destinationv1.HTTPRoute{
			Name: fmt.Sprintf("r%d", i),
			Matches: []*destinationv1.HTTPMatch{{
				Path:    regex(fmt.Sprintf(`/api/v%d/(users|orders)/[0-9]+`, i)),
				Headers: []*destinationv1.KeyMatch{key("x-tenant", regex(fmt.Sprintf("tenant-%d-[a-z]+", i)))},
			}, {
				Path:   prefix(fmt.Sprintf("/legacy/%d/", i)),
				Method: exact("POST"),
			}},
			Backends: []*destinationv1.Backend{to("v1", 50), to("v2", 50)},
		})
	}
	p.HttpRoutes = append(p.HttpRoutes, &destinationv1.HTTPRoute{
		Name:     "last",
		Matches:  []*destinationv1.HTTPMatch{{Path: regex(`/api/v[0-9]+/.*`)}},
		Backends: []*destinationv1.Backend{to("v1", 0)},
	})
	return p
}

func BenchmarkMatch(b *testing.B) {
	cases := []struct {
		name   string
		policy *destinationv1.Policy
		hdr    []string
		target string
	}{
		{"seed/header", seedPolicy(), []string{"end-user", "jason"}, "/reviews/1"},
		{"seed/split", seedPolicy(), nil, "/reviews/1"},
		{"20-regex/last", manyRoutes(), []string{"x-tenant", "tenant-3-acme"}, "/api/v99/users/42"},
		{"20-regex/first", manyRoutes(), []string{"x-tenant", "tenant-0-acme"}, "/api/v0/users/42"},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			tab := mustCompile(b, c.policy)
			r := req("GET", c.target, c.hdr...)
			if tab.Match(r, 9080) == nil {
				b.Fatal("no match")
			}
			b.ReportAllocs()
			for b.Loop() {
				tab.Match(r, 9080).PickBackend(nil)
			}
		})
	}
}
