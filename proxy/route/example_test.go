package route_test

import (
	"fmt"
	"net/http/httptest"

	destinationv1 "github.com/meshlite/meshlite/internal/api/destination/v1"
	"github.com/meshlite/meshlite/proxy/route"
)

func Example() {
	table, err := route.Compile(&destinationv1.Policy{
		Subsets: []*destinationv1.Subset{
			{Name: "v1", Labels: map[string]string{"version": "v1"}},
			{Name: "v2", Labels: map[string]string{"version": "v2"}},
		},
		HttpRoutes: []*destinationv1.HTTPRoute{{
			Name: "jason",
			Matches: []*destinationv1.HTTPMatch{{Headers: []*destinationv1.KeyMatch{{
				Name:  "end-user",
				Value: &destinationv1.StringMatch{Kind: &destinationv1.StringMatch_Exact{Exact: "jason"}},
			}}}},
			Backends: []*destinationv1.Backend{{Subset: "v2"}},
		}, {
			Name:     "default",
			Backends: []*destinationv1.Backend{{Subset: "v1"}},
		}},
	})
	if err != nil {
		panic(err)
	}
	r := httptest.NewRequest("GET", "/reviews/1", nil)
	r.Header.Set("End-User", "jason")
	rt := table.Match(r, 9080)
	fmt.Println(rt.Name(), rt.PickBackend(nil).Subset)
	// Output: jason v2
}
