package route

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"

	destinationv1 "github.com/meshlite/meshlite/internal/api/destination/v1"
	"github.com/meshlite/meshlite/proxy/retry"
)

func TestSeedExample(t *testing.T) {
	tab := mustCompile(t, seedPolicy())
	rt := tab.Match(req("GET", "/reviews/1", "end-user", "jason"), 9080)
	if rt.Name() != "jason" || rt.PickBackend(nil).Subset != "v2" {
		t.Fatalf("jason went to %q / %+v", rt.Name(), rt.PickBackend(nil))
	}
	rt = tab.Match(req("GET", "/reviews/1"), 9080)
	if rt.Name() != "split" {
		t.Fatalf("route %q, want split", rt.Name())
	}
	src := rand.NewPCG(3, 4)
	counts := map[string]int{}
	const n = 100_000
	for range n {
		counts[rt.PickBackend(src).Subset]++
	}
	if v2 := float64(counts["v2"]) / n; v2 < 0.095 || v2 > 0.105 {
		t.Fatalf("v2 share %.3f, want 0.10 (%v)", v2, counts)
	}
	if s, ok := tab.Subset("v2"); !ok || !s.Matches(map[string]string{"version": "v2", "app": "reviews"}) {
		t.Fatalf("subset v2 = %+v, %v", s, ok)
	}
	if rt.Retry() != retry.Default || rt.Fault() != nil || rt.Timeout() != 0 {
		t.Fatal("defaults: want retry.Default, no fault, no timeout")
	}
}

// topSource returns draws at the top of the range.
type seqSource []uint64

func (s *seqSource) Uint64() uint64 { v := (*s)[0]; *s = (*s)[1:]; return v }

func TestPickBackend(t *testing.T) {
	tests := []struct {
		name     string
		backends []*destinationv1.Backend
		draw     uint64
		want     string
	}{
		{"none: the service itself", nil, 0, ""},
		{"single ignores weight 0", []*destinationv1.Backend{to("a", 0)}, 0, "a"},
		{"lowest draw", []*destinationv1.Backend{to("a", 1), to("b", 3)}, 0, "a"},
		{"highest draw", []*destinationv1.Backend{to("a", 1), to("b", 3)}, ^uint64(0), "b"},
		{"quarter boundary", []*destinationv1.Backend{to("a", 1), to("b", 3)}, 1 << 62, "b"},
		{"just under quarter", []*destinationv1.Backend{to("a", 1), to("b", 3)}, 1<<62 - 1, "a"},
		{"zero weight gets nothing", []*destinationv1.Backend{to("a", 0), to("b", 5)}, 0, "b"},
		{"all zero: equal shares", []*destinationv1.Backend{to("a", 0), to("b", 0)}, 1 << 63, "b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tab := mustCompile(t, &destinationv1.Policy{
				Subsets:    []*destinationv1.Subset{{Name: "a"}, {Name: "b"}},
				HttpRoutes: []*destinationv1.HTTPRoute{{Backends: tt.backends}},
			})
			src := seqSource{tt.draw}
			if got := tab.Match(req("GET", "/"), 80).PickBackend(&src).Subset; got != tt.want {
				t.Errorf("picked %q, want %q", got, tt.want)
			}
		})
	}
}

func TestBackendFields(t *testing.T) {
	tab := mustCompile(t, &destinationv1.Policy{HttpRoutes: []*destinationv1.HTTPRoute{{
		Backends: []*destinationv1.Backend{{Service: "ratings.prod", Port: 9080, Subset: "v3", Weight: 7}},
	}}})
	want := Backend{Service: "ratings.prod", Port: 9080, Subset: "v3", Weight: 7}
	if got := tab.Match(req("GET", "/"), 80).PickBackend(nil); got != want {
		t.Fatalf("backend %+v, want %+v", got, want)
	}
	if w := tab.Warnings(); len(w) != 0 {
		t.Fatalf("warnings for another service's subset: %v", w)
	}
}

func TestRewrite(t *testing.T) {
	rw := func(m *destinationv1.HTTPMatch, uri, authority string) *destinationv1.Policy {
		r := &destinationv1.HTTPRoute{Rewrite: &destinationv1.Rewrite{Uri: uri, Authority: authority}}
		if m != nil {
			r.Matches = []*destinationv1.HTTPMatch{m}
		}
		return &destinationv1.Policy{HttpRoutes: []*destinationv1.HTTPRoute{r}}
	}
	tests := []struct {
		name      string
		policy    *destinationv1.Policy
		target    string
		wantURI   string
		wantPath  string
		authority string
	}{
		{"prefix replaced", rw(&destinationv1.HTTPMatch{Path: prefix("/check")}, "/api/health", ""), "/check/x?a=1", "/api/health/x?a=1", "/api/health/x", ""},
		{"prefix to root", rw(&destinationv1.HTTPMatch{Path: prefix("/api1/")}, "/", ""), "/api1/users", "/users", "/users", ""},
		{"exact replaces whole", rw(&destinationv1.HTTPMatch{Path: exact("/p2-list")}, "/prod/list", ""), "/p2-list?x", "/prod/list?x", "/prod/list", ""},
		{"regex replaces whole", rw(&destinationv1.HTTPMatch{Path: regex("/pr[1-3]/.*")}, "/prod/list", ""), "/pr2/abc", "/prod/list", "/prod/list", ""},
		{"no path condition replaces whole", rw(&destinationv1.HTTPMatch{Method: exact("GET")}, "/v2", ""), "/anything", "/v2", "/v2", ""},
		{"no match at all replaces whole", rw(nil, "/v2", ""), "/anything", "/v2", "/v2", ""},
		{"escaped rest kept", rw(&destinationv1.HTTPMatch{Path: prefix("/a")}, "/b", ""), "/a/x%2Fy", "/b/x%2Fy", "/b/x/y", ""},
		{"authority", rw(nil, "", "ratings.prod:9080"), "/x", "/x", "/x", "ratings.prod:9080"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tab := mustCompile(t, tt.policy)
			r := req("GET", tt.target, "Host", "orig")
			rt := tab.Match(r, 80)
			if rt == nil {
				t.Fatal("no route")
			}
			rt.ApplyRequest(r)
			if got := r.URL.RequestURI(); got != tt.wantURI {
				t.Errorf("request URI %q, want %q", got, tt.wantURI)
			}
			if r.URL.Path != tt.wantPath {
				t.Errorf("path %q, want %q", r.URL.Path, tt.wantPath)
			}
			want := tt.authority
			if want == "" {
				want = "orig"
			}
			if r.Host != want {
				t.Errorf("host %q, want %q", r.Host, want)
			}
		})
	}
}

func TestRewriteUsesTheMatchingEntry(t *testing.T) {
	tab := mustCompile(t, &destinationv1.Policy{HttpRoutes: []*destinationv1.HTTPRoute{{
		Name: "r",
		Matches: []*destinationv1.HTTPMatch{
			{Path: prefix("/a"), Headers: []*destinationv1.KeyMatch{key("x", nil)}},
			{Path: prefix("/")},
		},
		Rewrite: &destinationv1.Rewrite{Uri: "/z/"},
	}}})
	r := req("GET", "/a/b")
	rt := tab.Match(r, 80)
	rt.ApplyRequest(r)
	if r.URL.Path != "/z/a/b" {
		t.Fatalf("path %q: rewrote the prefix of an entry that did not match", r.URL.Path)
	}
}

func TestHeaderOps(t *testing.T) {
	tab := mustCompile(t, &destinationv1.Policy{HttpRoutes: []*destinationv1.HTTPRoute{{
		RequestHeaders: &destinationv1.HeaderOps{
			Set:    map[string]string{"x-set": "s", "x-remove": "set-after-remove"},
			Add:    map[string]string{"x-add": "a2", "Host": "evil"},
			Remove: []string{"X-REMOVE", "x-gone", ":path"},
		},
		ResponseHeaders: &destinationv1.HeaderOps{Set: map[string]string{"cache-control": "no-store"}, Remove: []string{"server"}},
	}}})
	r := req("GET", "/", "x-set", "old", "x-add", "a1", "x-remove", "r", "x-gone", "g", "Host", "h")
	rt := tab.Match(r, 80)
	rt.ApplyRequest(r)
	want := http.Header{"X-Set": {"s"}, "X-Add": {"a1", "a2"}, "X-Remove": {"set-after-remove"}}
	for k, v := range want {
		if !slices.Equal(r.Header[k], v) {
			t.Errorf("%s = %q, want %q", k, r.Header[k], v)
		}
	}
	if _, ok := r.Header["X-Gone"]; ok || r.Host != "h" {
		t.Errorf("x-gone kept or host changed: %v %q", r.Header, r.Host)
	}
	if w := tab.Warnings(); len(w) != 2 {
		t.Errorf("warnings %q, want two (Host, :path)", w)
	}
	h := http.Header{"Server": {"x"}, "Cache-Control": {"max-age=60"}}
	rt.ApplyResponse(h)
	if _, ok := h["Server"]; ok || h.Get("Cache-Control") != "no-store" {
		t.Errorf("response headers %v", h)
	}
	rt.ApplyResponse(nil) // harmless
}

func TestRoutePolicies(t *testing.T) {
	tab := mustCompile(t, &destinationv1.Policy{HttpRoutes: []*destinationv1.HTTPRoute{{
		Name:    "r",
		Timeout: durationpb.New(3 * time.Second),
		Retry:   &destinationv1.Retry{Attempts: 3, RetryOn: []string{"5xx", "retriable-headers"}},
		Fault:   &destinationv1.Fault{Abort: &destinationv1.Fault_Abort{HttpStatus: 503, Percentage: 100}},
	}}})
	rt := tab.Match(req("GET", "/"), 80)
	if rt.Timeout() != 3*time.Second || rt.Retry().Attempts() != 3 {
		t.Fatalf("timeout %v, attempts %d", rt.Timeout(), rt.Retry().Attempts())
	}
	if _, s, _ := rt.Fault().Decide(nil); s != 503 {
		t.Fatalf("fault status %d", s)
	}
	if w := tab.Warnings(); len(w) != 1 || !strings.Contains(w[0], "retriable-headers") {
		t.Fatalf("warnings %q", w)
	}
	if tab.Match(req("GET", "/"), 80).Name() != "r" {
		t.Fatal("name")
	}
}

func TestDefaultNames(t *testing.T) {
	tab := mustCompile(t, &destinationv1.Policy{HttpRoutes: []*destinationv1.HTTPRoute{
		{Matches: []*destinationv1.HTTPMatch{{Method: exact("POST")}}},
		{},
	}})
	if got := tab.Match(req("GET", "/"), 80).Name(); got != "route-1" {
		t.Fatalf("unnamed route called %q, want route-1", got)
	}
}

func TestMatchTCP(t *testing.T) {
	tab := mustCompile(t, &destinationv1.Policy{
		Subsets: []*destinationv1.Subset{{Name: "v1"}},
		TcpRoutes: []*destinationv1.TCPRoute{
			{Port: 5432, Backends: []*destinationv1.Backend{to("v1", 0)}},
			{Backends: []*destinationv1.Backend{to("v9", 1), to("v1", 1)}},
		},
	})
	if got := tab.MatchTCP(5432).PickBackend(nil).Subset; got != "v1" {
		t.Fatalf("5432 went to %q", got)
	}
	if tr := tab.MatchTCP(80); tr == nil || len(tr.Backends()) != 2 {
		t.Fatalf("catch-all TCP route: %v", tr)
	}
	if w := tab.Warnings(); len(w) != 1 || !strings.Contains(w[0], "v9") {
		t.Fatalf("warnings %q, want one for undefined subset v9", w)
	}
	if (&Table{}).MatchTCP(80) != nil || (*Table)(nil).MatchTCP(80) != nil {
		t.Fatal("empty tables route TCP")
	}
}

func TestSubsetMatches(t *testing.T) {
	tests := []struct {
		labels, subset map[string]string
		want           bool
	}{
		{map[string]string{"version": "v1", "app": "x"}, map[string]string{"version": "v1"}, true},
		{map[string]string{"version": "v2"}, map[string]string{"version": "v1"}, false},
		{map[string]string{}, map[string]string{"version": "v1"}, false},
		{nil, nil, true},
		{map[string]string{"a": ""}, map[string]string{"a": ""}, true},
		{map[string]string{}, map[string]string{"a": ""}, false},
	}
	for i, tt := range tests {
		if got := SubsetMatches(tt.labels, tt.subset); got != tt.want {
			t.Errorf("%d: SubsetMatches(%v, %v) = %v", i, tt.labels, tt.subset, got)
		}
	}
}

func TestTraffic(t *testing.T) {
	svcOD := &destinationv1.OutlierDetection{Consecutive_5XxErrors: 5}
	portCP := &destinationv1.ConnectionPool{MaxConnections: 10}
	subOD := &destinationv1.OutlierDetection{Consecutive_5XxErrors: 1}
	tab := mustCompile(t, &destinationv1.Policy{
		Balancer:         destinationv1.Balancer_BALANCER_ROUND_ROBIN,
		OutlierDetection: svcOD,
		PortPolicies:     []*destinationv1.PortPolicy{{Port: 9080, ConnectionPool: portCP, Balancer: destinationv1.Balancer_BALANCER_RANDOM}},
		Subsets: []*destinationv1.Subset{
			{Name: "v2", OutlierDetection: subOD, Balancer: destinationv1.Balancer_BALANCER_LEAST_REQUEST},
			{Name: "v3"},
		},
	})
	tests := []struct {
		port   uint16
		subset string
		want   Traffic
	}{
		{80, "", Traffic{destinationv1.Balancer_BALANCER_ROUND_ROBIN, svcOD, nil}},
		{9080, "", Traffic{destinationv1.Balancer_BALANCER_RANDOM, svcOD, portCP}},
		{9080, "v2", Traffic{destinationv1.Balancer_BALANCER_LEAST_REQUEST, subOD, portCP}},
		{80, "v3", Traffic{destinationv1.Balancer_BALANCER_ROUND_ROBIN, svcOD, nil}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.port, tt.subset), func(t *testing.T) {
			if got := tab.Traffic(tt.port, tt.subset); got != tt.want {
				t.Errorf("Traffic = %+v, want %+v", got, tt.want)
			}
		})
	}
	if (*Table)(nil).Traffic(80, "") != (Traffic{}) {
		t.Fatal("nil table")
	}
}

func TestDuplicateSubset(t *testing.T) {
	tab := mustCompile(t, &destinationv1.Policy{Subsets: []*destinationv1.Subset{
		{Name: "a", Labels: map[string]string{"v": "1"}},
		{Name: "a", Labels: map[string]string{"v": "2"}},
	}})
	if s, _ := tab.Subset("a"); s.Labels["v"] != "1" || len(tab.Warnings()) != 1 {
		t.Fatalf("subset %v, warnings %v", s, tab.Warnings())
	}
}
