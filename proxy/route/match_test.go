package route

import (
	"net/http"
	"regexp"
	"strings"
	"testing"

	destinationv1 "github.com/meshlite/meshlite/internal/api/destination/v1"
)

func TestMatch(t *testing.T) {
	one := func(m ...*destinationv1.HTTPMatch) *destinationv1.Policy {
		return &destinationv1.Policy{HttpRoutes: []*destinationv1.HTTPRoute{{Name: "r", Matches: m}}}
	}
	tests := []struct {
		name   string
		policy *destinationv1.Policy
		req    *http.Request
		port   uint16
		want   bool
	}{
		{"no routes", &destinationv1.Policy{}, req("GET", "/"), 80, false},
		{"nil policy", nil, req("GET", "/"), 80, false},
		{"route without matches", one(), req("GET", "/x"), 80, true},
		{"empty match entry matches all", one(&destinationv1.HTTPMatch{}), req("GET", "/x"), 80, true},

		{"path exact", one(&destinationv1.HTTPMatch{Path: exact("/a")}), req("GET", "/a"), 80, true},
		{"path exact ignores query", one(&destinationv1.HTTPMatch{Path: exact("/a")}), req("GET", "/a?x=1"), 80, true},
		{"path exact longer", one(&destinationv1.HTTPMatch{Path: exact("/a")}), req("GET", "/a/b"), 80, false},
		{"path exact case-sensitive", one(&destinationv1.HTTPMatch{Path: exact("/a")}), req("GET", "/A"), 80, false},
		{"path prefix", one(&destinationv1.HTTPMatch{Path: prefix("/api")}), req("GET", "/api/v1"), 80, true},
		{"path prefix is a string prefix", one(&destinationv1.HTTPMatch{Path: prefix("/api")}), req("GET", "/apis"), 80, true},
		{"path prefix miss", one(&destinationv1.HTTPMatch{Path: prefix("/api")}), req("GET", "/ap"), 80, false},
		{"path escaped as sent", one(&destinationv1.HTTPMatch{Path: exact("/a%2Fb")}), req("GET", "/a%2Fb"), 80, true},
		{"path escaped does not match decoded", one(&destinationv1.HTTPMatch{Path: exact("/a/b")}), req("GET", "/a%2Fb"), 80, false},
		{"path regex anchored", one(&destinationv1.HTTPMatch{Path: regex("/v[0-9]+")}), req("GET", "/v12"), 80, true},
		{"path regex is whole value", one(&destinationv1.HTTPMatch{Path: regex("/v[0-9]+")}), req("GET", "/v12/x"), 80, false},
		{"path regex alternation anchored", one(&destinationv1.HTTPMatch{Path: regex("/a|/b")}), req("GET", "/bx"), 80, false},

		{"method", one(&destinationv1.HTTPMatch{Method: exact("POST")}), req("POST", "/"), 80, true},
		{"method case-sensitive", one(&destinationv1.HTTPMatch{Method: exact("post")}), req("POST", "/"), 80, false},
		{"authority", one(&destinationv1.HTTPMatch{Authority: exact("reviews:9080")}), req("GET", "/", "Host", "reviews:9080"), 80, true},
		{"authority prefix", one(&destinationv1.HTTPMatch{Authority: prefix("reviews")}), req("GET", "/", "Host", "reviews.default"), 80, true},
		{"authority miss", one(&destinationv1.HTTPMatch{Authority: exact("reviews")}), req("GET", "/", "Host", "ratings"), 80, false},

		{"header exact", one(&destinationv1.HTTPMatch{Headers: []*destinationv1.KeyMatch{key("end-user", exact("jason"))}}), req("GET", "/", "End-User", "jason"), 80, true},
		{"header name case-insensitive", one(&destinationv1.HTTPMatch{Headers: []*destinationv1.KeyMatch{key("END-user", exact("jason"))}}), req("GET", "/", "end-user", "jason"), 80, true},
		{"header value case-sensitive", one(&destinationv1.HTTPMatch{Headers: []*destinationv1.KeyMatch{key("end-user", exact("jason"))}}), req("GET", "/", "end-user", "Jason"), 80, false},
		{"header absent", one(&destinationv1.HTTPMatch{Headers: []*destinationv1.KeyMatch{key("end-user", exact("jason"))}}), req("GET", "/"), 80, false},
		{"header presence", one(&destinationv1.HTTPMatch{Headers: []*destinationv1.KeyMatch{key("x-canary", nil)}}), req("GET", "/", "x-canary", ""), 80, true},
		{"header presence absent", one(&destinationv1.HTTPMatch{Headers: []*destinationv1.KeyMatch{key("x-canary", nil)}}), req("GET", "/"), 80, false},
		{"header regex cookie", one(&destinationv1.HTTPMatch{Headers: []*destinationv1.KeyMatch{key("cookie", regex(`^(.*?;)?(user=jason)(;.*)?`))}}), req("GET", "/", "Cookie", "a=b;user=jason;c=d"), 80, true},
		{"header multi-valued joined", one(&destinationv1.HTTPMatch{Headers: []*destinationv1.KeyMatch{key("x-v", exact("a,b"))}}), req("GET", "/", "x-v", "a", "x-v", "b"), 80, true},
		{"header host means authority", one(&destinationv1.HTTPMatch{Headers: []*destinationv1.KeyMatch{key("host", exact("svc"))}}), req("GET", "/", "Host", "svc"), 80, true},
		{"header :authority", one(&destinationv1.HTTPMatch{Headers: []*destinationv1.KeyMatch{key(":authority", prefix("sv"))}}), req("GET", "/", "Host", "svc"), 80, true},
		{"header :method", one(&destinationv1.HTTPMatch{Headers: []*destinationv1.KeyMatch{key(":method", exact("PUT"))}}), req("PUT", "/"), 80, true},
		{"header :path", one(&destinationv1.HTTPMatch{Headers: []*destinationv1.KeyMatch{key(":path", prefix("/x"))}}), req("GET", "/xy"), 80, true},

		{"query exact", one(&destinationv1.HTTPMatch{QueryParams: []*destinationv1.KeyMatch{key("v", exact("2"))}}), req("GET", "/?a=1&v=2"), 80, true},
		{"query first value wins", one(&destinationv1.HTTPMatch{QueryParams: []*destinationv1.KeyMatch{key("v", exact("2"))}}), req("GET", "/?v=1&v=2"), 80, false},
		{"query as sent", one(&destinationv1.HTTPMatch{QueryParams: []*destinationv1.KeyMatch{key("q", exact("a%20b"))}}), req("GET", "/?q=a%20b"), 80, true},
		{"query presence without value", one(&destinationv1.HTTPMatch{QueryParams: []*destinationv1.KeyMatch{key("debug", nil)}}), req("GET", "/?debug"), 80, true},
		{"query key is exact", one(&destinationv1.HTTPMatch{QueryParams: []*destinationv1.KeyMatch{key("v", nil)}}), req("GET", "/?vv=1"), 80, false},
		{"query regex", one(&destinationv1.HTTPMatch{QueryParams: []*destinationv1.KeyMatch{key("id", regex("[0-9]+"))}}), req("GET", "/?id=42"), 80, true},
		{"query none", one(&destinationv1.HTTPMatch{QueryParams: []*destinationv1.KeyMatch{key("id", nil)}}), req("GET", "/"), 80, false},

		{"without header absent", one(&destinationv1.HTTPMatch{WithoutHeaders: []*destinationv1.KeyMatch{key("x-test", nil)}}), req("GET", "/"), 80, true},
		{"without header present", one(&destinationv1.HTTPMatch{WithoutHeaders: []*destinationv1.KeyMatch{key("x-test", nil)}}), req("GET", "/", "x-test", "1"), 80, false},
		{"without header other value", one(&destinationv1.HTTPMatch{WithoutHeaders: []*destinationv1.KeyMatch{key("x-test", exact("1"))}}), req("GET", "/", "x-test", "2"), 80, true},

		{"port", one(&destinationv1.HTTPMatch{Port: 9080}), req("GET", "/"), 9080, true},
		{"port miss", one(&destinationv1.HTTPMatch{Port: 9080}), req("GET", "/"), 80, false},

		{"AND within a match", one(&destinationv1.HTTPMatch{Path: prefix("/a"), Method: exact("GET")}), req("POST", "/a"), 80, false},
		{"OR across matches", one(&destinationv1.HTTPMatch{Path: prefix("/a")}, &destinationv1.HTTPMatch{Method: exact("POST")}), req("POST", "/b"), 80, true},
		{"empty prefix matches all", one(&destinationv1.HTTPMatch{Path: prefix("")}), req("GET", "/z"), 80, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tab := mustCompile(t, tt.policy)
			if got := tab.Match(tt.req, tt.port) != nil; got != tt.want {
				t.Errorf("matched = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestFirstRouteWins(t *testing.T) {
	tab := mustCompile(t, &destinationv1.Policy{HttpRoutes: []*destinationv1.HTTPRoute{
		{Name: "a", Matches: []*destinationv1.HTTPMatch{{Path: prefix("/api/v1")}}},
		{Name: "b", Matches: []*destinationv1.HTTPMatch{{Path: prefix("/api")}}},
		{Name: "c"},
	}})
	for path, want := range map[string]string{"/api/v1/x": "a", "/api/v2": "b", "/": "c"} {
		if got := tab.Match(req("GET", path), 80).Name(); got != want {
			t.Errorf("%s: route %q, want %q", path, got, want)
		}
	}
}

func TestCompileErrors(t *testing.T) {
	bad := []*destinationv1.Policy{
		{HttpRoutes: []*destinationv1.HTTPRoute{{Matches: []*destinationv1.HTTPMatch{{Path: regex("(")}}}}},
		{HttpRoutes: []*destinationv1.HTTPRoute{{Matches: []*destinationv1.HTTPMatch{{Headers: []*destinationv1.KeyMatch{key("", nil)}}}}}},
		{HttpRoutes: []*destinationv1.HTTPRoute{{Matches: []*destinationv1.HTTPMatch{{QueryParams: []*destinationv1.KeyMatch{key("q", regex("[z-a]"))}}}}}},
		{HttpRoutes: []*destinationv1.HTTPRoute{{Rewrite: &destinationv1.Rewrite{Uri: "v2"}}}},
		{HttpRoutes: []*destinationv1.HTTPRoute{{Retry: &destinationv1.Retry{Attempts: 1, RetryOn: []string{"999"}}}}},
		{HttpRoutes: []*destinationv1.HTTPRoute{{Fault: &destinationv1.Fault{Abort: &destinationv1.Fault_Abort{Percentage: 10}}}}},
		{Subsets: []*destinationv1.Subset{{}}},
		{TcpRoutes: []*destinationv1.TCPRoute{{Backends: []*destinationv1.Backend{{Port: 70000}}}}},
	}
	for i, p := range bad {
		if _, err := Compile(p); err == nil || !strings.HasPrefix(err.Error(), "route: ") {
			t.Errorf("policy %d: err = %v, want a route: error", i, err)
		}
	}
}

// FuzzQueryValue compares the query scanner with a plain reference.
func FuzzQueryValue(f *testing.F) {
	for _, s := range []string{"a=1&b=2", "a", "&&a=&a=2", "a=b=c", "%61=1", "a=1;b=2", ""} {
		f.Add(s, "a")
	}
	f.Fuzz(func(t *testing.T, raw, k string) {
		if k == "" {
			return // Compile rejects a parameter without a name
		}
		got, ok := queryValue(raw, k)
		var want string
		var wok bool
		for _, pair := range strings.Split(raw, "&") {
			if pair == "" && raw == "" {
				break
			}
			name, v, _ := strings.Cut(pair, "=")
			if name == k {
				want, wok = v, true
				break
			}
		}
		if got != want || ok != wok {
			t.Fatalf("queryValue(%q, %q) = %q, %v; want %q, %v", raw, k, got, ok, want, wok)
		}
	})
}

// FuzzRegexAnchoring checks that a compiled regex matches exactly the
// values matched entirely by the expression.
func FuzzRegexAnchoring(f *testing.F) {
	f.Add(`/v[0-9]+`, "/v1")
	f.Add(`a|b`, "ab")
	f.Add(`(?i)x.*`, "Xyz")
	f.Fuzz(func(t *testing.T, expr, v string) {
		m, err := Regex(expr)
		if err != nil {
			return
		}
		re := regexp.MustCompile(`(?:` + expr + `)`)
		whole := false
		for _, loc := range re.FindAllStringIndex(v, -1) {
			if loc[0] == 0 && loc[1] == len(v) {
				whole = true
			}
		}
		if whole && !m(v) {
			t.Fatalf("Regex(%q) rejects %q, which it matches whole", expr, v)
		}
		if m(v) {
			if !re.MatchString(v) {
				t.Fatalf("Regex(%q) accepts %q, which it does not match at all", expr, v)
			}
		}
	})
}

// FuzzMatch feeds arbitrary requests to a table with every kind of
// condition: it must not panic, and a match must satisfy its conditions.
func FuzzMatch(f *testing.F) {
	f.Add("/api/v1/items", "x=1&debug", "jason", "GET", "svc:80")
	f.Add("//", "", "", "POST", "")
	tab := mustCompile(f, &destinationv1.Policy{HttpRoutes: []*destinationv1.HTTPRoute{
		{Name: "q", Matches: []*destinationv1.HTTPMatch{{QueryParams: []*destinationv1.KeyMatch{key("debug", nil)}, Path: regex("/api/.*")}}},
		{Name: "h", Matches: []*destinationv1.HTTPMatch{{Headers: []*destinationv1.KeyMatch{key("end-user", regex("j.*n"))}, Method: exact("GET")}}},
		{Name: "w", Matches: []*destinationv1.HTTPMatch{{WithoutHeaders: []*destinationv1.KeyMatch{key("end-user", nil)}, Authority: prefix("svc")}}},
	}})
	f.Fuzz(func(t *testing.T, path, query, user, method, host string) {
		r := req("GET", "/")
		r.URL.Path, r.URL.RawPath, r.URL.RawQuery, r.Method, r.Host = path, "", query, method, host
		if user != "" {
			r.Header.Set("End-User", user)
		}
		rt := tab.Match(r, 80)
		if rt == nil {
			return
		}
		switch rt.Name() {
		case "h":
			if method != "GET" || !regexp.MustCompile(`^j.*n$`).MatchString(user) {
				t.Fatalf("route h matched method %q user %q", method, user)
			}
		case "w":
			if user != "" || !strings.HasPrefix(host, "svc") {
				t.Fatalf("route w matched user %q host %q", user, host)
			}
		}
	})
}
