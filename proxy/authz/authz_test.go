package authz

import (
	"errors"
	"slices"
	"testing"

	destinationv1 "github.com/meshlite/meshlite/internal/api/destination/v1"
)

const (
	allow = destinationv1.AuthzAction_AUTHZ_ACTION_ALLOW
	deny  = destinationv1.AuthzAction_AUTHZ_ACTION_DENY
	audit = destinationv1.AuthzAction_AUTHZ_ACTION_AUDIT
)

type (
	src = destinationv1.AuthzRule_Source
	op  = destinationv1.AuthzRule_Operation
)

func pol(name string, action destinationv1.AuthzAction, rules ...*destinationv1.AuthzRule) *destinationv1.AuthorizationPolicy {
	return &destinationv1.AuthorizationPolicy{Name: name, Action: action, Rules: rules}
}

func rule(from []*src, to []*op) *destinationv1.AuthzRule {
	return &destinationv1.AuthzRule{From: from, To: to}
}

func mustCompile(t testing.TB, p *destinationv1.InboundPolicy) *Policy {
	t.Helper()
	c, err := Compile(p)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

const (
	web   = "spiffe://cluster.local/ns/default/sa/web"
	sleep = "cluster.local/ns/test/sa/sleep"
)

func mtls(principal, method, path string) Request {
	return Request{Principal: principal, TLS: true, Method: method, Path: path, Port: 8080}
}

func plaintext(method, path string) Request {
	return Request{Method: method, Path: path, Port: 8080}
}

func TestAuthorize(t *testing.T) {
	allowWebGET := pol("default/web-get", allow, rule(
		[]*src{{Principals: []string{"cluster.local/ns/default/sa/web"}}},
		[]*op{{Methods: []string{"GET"}}},
	))
	denyAdmin := pol("default/no-admin", deny, rule(nil, []*op{{Paths: []string{"/admin*"}}}))
	tests := []struct {
		name     string
		policies []*destinationv1.AuthorizationPolicy
		req      Request
		allowed  bool
		policy   string
		action   Action
	}{
		{"no policies allow", nil, plaintext("GET", "/"), true, "", ActionAllow},
		{"allow matches", []*destinationv1.AuthorizationPolicy{allowWebGET}, mtls(web, "GET", "/x"), true, "default/web-get", ActionAllow},
		{"allow: wrong method", []*destinationv1.AuthorizationPolicy{allowWebGET}, mtls(web, "POST", "/x"), false, "", ActionAllow},
		{"allow: other principal", []*destinationv1.AuthorizationPolicy{allowWebGET}, mtls(sleep, "GET", "/x"), false, "", ActionAllow},
		{"allow: plaintext has no principal", []*destinationv1.AuthorizationPolicy{allowWebGET}, Request{Principal: web, Method: "GET", Path: "/"}, false, "", ActionAllow},
		{"deny wins over allow", []*destinationv1.AuthorizationPolicy{allowWebGET, denyAdmin}, mtls(web, "GET", "/admin/x"), false, "default/no-admin", ActionDeny},
		{"deny only: others allowed", []*destinationv1.AuthorizationPolicy{denyAdmin}, plaintext("GET", "/public"), true, "", ActionAllow},
		{"deny prefix", []*destinationv1.AuthorizationPolicy{denyAdmin}, plaintext("GET", "/admin"), false, "default/no-admin", ActionDeny},
		{"deny ignores query", []*destinationv1.AuthorizationPolicy{pol("q", deny, rule(nil, []*op{{Paths: []string{"/admin"}}}))}, plaintext("GET", "/admin?x=1"), false, "q", ActionDeny},
		{"case is significant", []*destinationv1.AuthorizationPolicy{denyAdmin}, plaintext("GET", "/ADMIN"), true, "", ActionAllow},
		{"allow without rules denies all", []*destinationv1.AuthorizationPolicy{pol("deny-all", allow)}, mtls(web, "GET", "/"), false, "", ActionAllow},
		{"allow match_all allows all", []*destinationv1.AuthorizationPolicy{{Name: "all", Action: allow, MatchAll: true}}, plaintext("GET", "/"), true, "all", ActionAllow},
		{"deny without rules matches nothing", []*destinationv1.AuthorizationPolicy{pol("d", deny)}, plaintext("GET", "/"), true, "", ActionAllow},
		{"deny match_all", []*destinationv1.AuthorizationPolicy{{Name: "d", Action: deny, MatchAll: true}}, mtls(web, "GET", "/"), false, "d", ActionDeny},
		{"unspecified action is allow", []*destinationv1.AuthorizationPolicy{pol("u", destinationv1.AuthzAction_AUTHZ_ACTION_UNSPECIFIED, rule(nil, []*op{{Ports: []uint32{9090}}}))}, plaintext("GET", "/"), false, "", ActionAllow},
		{"empty rule matches all", []*destinationv1.AuthorizationPolicy{pol("e", allow, rule(nil, nil))}, plaintext("DELETE", "/"), true, "e", ActionAllow},

		{"deny plaintext with not_principals *", []*destinationv1.AuthorizationPolicy{pol("strict", deny, rule([]*src{{NotPrincipals: []string{"*"}}}, nil))}, plaintext("GET", "/"), false, "strict", ActionDeny},
		{"not_principals * lets mTLS through", []*destinationv1.AuthorizationPolicy{pol("strict", deny, rule([]*src{{NotPrincipals: []string{"*"}}}, nil))}, mtls(web, "GET", "/"), true, "", ActionAllow},
		{"principals * requires mTLS", []*destinationv1.AuthorizationPolicy{pol("any", allow, rule([]*src{{Principals: []string{"*"}}}, nil))}, plaintext("GET", "/"), false, "", ActionAllow},
		{"principal prefix wildcard", []*destinationv1.AuthorizationPolicy{pol("p", allow, rule([]*src{{Principals: []string{"cluster.local/ns/default/*"}}}, nil))}, mtls(web, "GET", "/"), true, "p", ActionAllow},
		{"principal suffix wildcard", []*destinationv1.AuthorizationPolicy{pol("p", allow, rule([]*src{{Principals: []string{"*/sa/sleep"}}}, nil))}, mtls(sleep, "GET", "/"), true, "p", ActionAllow},
		{"principal pattern with scheme", []*destinationv1.AuthorizationPolicy{pol("p", allow, rule([]*src{{Principals: []string{web}}}, nil))}, mtls("cluster.local/ns/default/sa/web", "GET", "/"), true, "p", ActionAllow},
		{"namespace from the SPIFFE ID", []*destinationv1.AuthorizationPolicy{pol("ns", allow, rule([]*src{{Namespaces: []string{"test"}}}, nil))}, mtls(sleep, "GET", "/"), true, "ns", ActionAllow},
		{"namespace mismatch", []*destinationv1.AuthorizationPolicy{pol("ns", allow, rule([]*src{{Namespaces: []string{"test"}}}, nil))}, mtls(web, "GET", "/"), false, "", ActionAllow},
		{"namespace given wins", []*destinationv1.AuthorizationPolicy{pol("ns", allow, rule([]*src{{Namespaces: []string{"prod"}}}, nil))}, Request{Principal: web, Namespace: "prod", TLS: true}, true, "ns", ActionAllow},
		{"not_namespaces", []*destinationv1.AuthorizationPolicy{pol("nn", deny, rule([]*src{{NotNamespaces: []string{"default"}}}, nil))}, mtls(sleep, "GET", "/"), false, "nn", ActionDeny},
		{"source fields AND", []*destinationv1.AuthorizationPolicy{pol("and", allow, rule([]*src{{Namespaces: []string{"default"}, NotPrincipals: []string{"*/sa/web"}}}, nil))}, mtls(web, "GET", "/"), false, "", ActionAllow},
		{"sources OR", []*destinationv1.AuthorizationPolicy{pol("or", allow, rule([]*src{{Namespaces: []string{"x"}}, {Namespaces: []string{"test"}}}, nil))}, mtls(sleep, "GET", "/"), true, "or", ActionAllow},
		{"from AND to", []*destinationv1.AuthorizationPolicy{pol("ft", allow, rule([]*src{{Namespaces: []string{"test"}}}, []*op{{Methods: []string{"POST"}}}))}, mtls(sleep, "GET", "/"), false, "", ActionAllow},
		{"rules OR", []*destinationv1.AuthorizationPolicy{pol("r", allow, rule(nil, []*op{{Methods: []string{"POST"}}}), rule(nil, []*op{{Paths: []string{"/health"}}}))}, plaintext("GET", "/health"), true, "r", ActionAllow},
		{"not_methods", []*destinationv1.AuthorizationPolicy{pol("ro", deny, rule(nil, []*op{{NotMethods: []string{"GET", "HEAD"}}}))}, plaintext("PUT", "/"), false, "ro", ActionDeny},
		{"methods case-sensitive", []*destinationv1.AuthorizationPolicy{pol("m", allow, rule(nil, []*op{{Methods: []string{"GET"}}}))}, plaintext("get", "/"), false, "", ActionAllow},
		{"paths suffix", []*destinationv1.AuthorizationPolicy{pol("s", deny, rule(nil, []*op{{Paths: []string{"*.php"}}}))}, plaintext("GET", "/x/index.php"), false, "s", ActionDeny},
		{"paths * any", []*destinationv1.AuthorizationPolicy{pol("s", allow, rule(nil, []*op{{Paths: []string{"*"}}}))}, plaintext("GET", "/"), true, "s", ActionAllow},
		{"not_paths", []*destinationv1.AuthorizationPolicy{pol("np", allow, rule(nil, []*op{{NotPaths: []string{"/private*"}}}))}, plaintext("GET", "/private/x"), false, "", ActionAllow},
		{"ports", []*destinationv1.AuthorizationPolicy{pol("p", allow, rule(nil, []*op{{Ports: []uint32{8080}}}))}, plaintext("GET", "/"), true, "p", ActionAllow},
		{"not_ports", []*destinationv1.AuthorizationPolicy{pol("p", deny, rule(nil, []*op{{NotPorts: []uint32{8080}}}))}, plaintext("GET", "/"), true, "", ActionAllow},
		{"operations OR", []*destinationv1.AuthorizationPolicy{pol("o", allow, rule(nil, []*op{{Ports: []uint32{1}}, {Methods: []string{"GET"}}}))}, plaintext("GET", "/"), true, "o", ActionAllow},
		{"first matching deny named", []*destinationv1.AuthorizationPolicy{pol("d1", deny, rule(nil, []*op{{Paths: []string{"/a"}}})), pol("d2", deny, rule(nil, nil))}, plaintext("GET", "/a"), false, "d1", ActionDeny},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := mustCompile(t, &destinationv1.InboundPolicy{Authorization: tt.policies})
			d := p.Authorize(tt.req)
			if d.Allowed != tt.allowed || d.Policy != tt.policy || d.Action != tt.action {
				t.Errorf("Authorize = %+v, want allowed %v policy %q action %v", d, tt.allowed, tt.policy, tt.action)
			}
		})
	}
}

func TestAudit(t *testing.T) {
	p := mustCompile(t, &destinationv1.InboundPolicy{Authorization: []*destinationv1.AuthorizationPolicy{
		pol("audit-writes", audit, rule(nil, []*op{{NotMethods: []string{"GET"}}})),
		pol("audit-all", audit, rule(nil, nil)),
		pol("audit-none", audit),
		pol("no-delete", deny, rule(nil, []*op{{Methods: []string{"DELETE"}}})),
	}})
	d := p.Authorize(plaintext("DELETE", "/x"))
	if d.Allowed || d.Policy != "no-delete" || !slices.Equal(d.Audit, []string{"audit-writes", "audit-all"}) {
		t.Fatalf("DELETE: %+v", d)
	}
	d = p.Authorize(plaintext("GET", "/x"))
	if !d.Allowed || !slices.Equal(d.Audit, []string{"audit-all"}) {
		t.Fatalf("GET: %+v", d)
	}
}

// TestNoBypass: a DENY on /admin* holds against every trick, once the path
// is normalized as the proxy forwards it.
func TestNoBypass(t *testing.T) {
	p := mustCompile(t, &destinationv1.InboundPolicy{Authorization: []*destinationv1.AuthorizationPolicy{
		pol("no-admin", deny, rule(nil, []*op{{Paths: []string{"/admin*"}}})),
	}})
	for _, raw := range []string{
		"/admin", "//admin", "///admin/x", "/./admin", "/admin/../admin", "/x/../admin",
		"/%2e%2e/admin", "/%2E%2E/admin", "/.%2e/admin", "/%2e/admin", "/%61dmin", "/%61%64%6D%69%6E",
		"/public/..%2Fadmin", "/public%2F..%2Fadmin", "/public%2f..%2fadmin", "/public%5C..%5Cadmin",
		`/public\..\admin`, `\admin`, "/x/%2e%2e/admin", "/%2fadmin", "/x/..//admin", "/admin%2F..%2Fadmin",
	} {
		t.Run(raw, func(t *testing.T) {
			path, err := NormalizePath(raw)
			if err != nil {
				return // rejected with 400: no bypass either
			}
			if d := p.Authorize(plaintext("GET", path)); d.Allowed {
				t.Fatalf("%q normalized to %q got through", raw, path)
			}
		})
	}
	for _, raw := range []string{"/%00admin", "/adm%in", "/admin\x00"} {
		if _, err := NormalizePath(raw); err == nil {
			t.Errorf("%q accepted", raw)
		}
	}
}

func TestMTLSFor(t *testing.T) {
	p := mustCompile(t, &destinationv1.InboundPolicy{
		MtlsMode: destinationv1.MTLSMode_MTLS_MODE_STRICT,
		PortMtls: map[uint32]destinationv1.MTLSMode{
			8080: destinationv1.MTLSMode_MTLS_MODE_PERMISSIVE,
			9090: destinationv1.MTLSMode_MTLS_MODE_DISABLE,
			7070: destinationv1.MTLSMode_MTLS_MODE_UNSPECIFIED,
		},
	})
	for port, want := range map[uint16]Mode{8080: ModePermissive, 9090: ModeDisable, 7070: ModeStrict, 1: ModeStrict} {
		if got := p.MTLSFor(port); got != want {
			t.Errorf("MTLSFor(%d) = %v, want %v", port, got, want)
		}
	}
	if m := mustCompile(t, nil).MTLSFor(80); m != ModePermissive {
		t.Errorf("default mode %v", m)
	}
	var nilPol *Policy
	if nilPol.MTLSFor(1) != ModePermissive || !nilPol.Authorize(Request{}).Allowed {
		t.Error("nil policy must be permissive and allow")
	}
}

func TestCompileErrors(t *testing.T) {
	for _, p := range []*destinationv1.InboundPolicy{
		{MtlsMode: 42},
		{PortMtls: map[uint32]destinationv1.MTLSMode{8080: 9}},
		{PortMtls: map[uint32]destinationv1.MTLSMode{70000: 1}},
		{Authorization: []*destinationv1.AuthorizationPolicy{{Name: "custom", Action: 7}}},
	} {
		if _, err := Compile(p); !errors.Is(err, ErrInvalidPolicy) {
			t.Errorf("Compile(%v) = %v, want ErrInvalidPolicy", p, err)
		}
	}
}

func TestNamespaceOf(t *testing.T) {
	for id, want := range map[string]string{
		"cluster.local/ns/default/sa/web": "default",
		"td/ns/x":                         "x",
		"td/sa/web":                       "",
		"td":                              "",
		"td/ns/":                          "",
	} {
		if got := namespaceOf(id); got != want {
			t.Errorf("namespaceOf(%q) = %q, want %q", id, got, want)
		}
	}
}

func FuzzAuthorize(f *testing.F) {
	f.Add("cluster.local/ns/default/sa/web", "GET", "/admin", true)
	f.Add("", "", "", false)
	p := mustCompile(f, &destinationv1.InboundPolicy{Authorization: []*destinationv1.AuthorizationPolicy{
		pol("no-admin", deny, rule(nil, []*op{{Paths: []string{"/admin*"}}})),
		pol("web", allow, rule([]*src{{Principals: []string{"*/sa/web"}, Namespaces: []string{"default"}}}, nil)),
	}})
	f.Fuzz(func(t *testing.T, principal, method, raw string, tls bool) {
		path, err := NormalizePath(raw)
		if err != nil {
			return
		}
		d := p.Authorize(Request{Principal: principal, TLS: tls, Method: method, Path: path})
		if d.Allowed && len(path) >= 6 && path[:6] == "/admin" {
			t.Fatalf("%q (%q) allowed", raw, path)
		}
		if d.Allowed && !tls {
			t.Fatalf("plaintext allowed by a principal rule")
		}
	})
}

func BenchmarkAuthorize(b *testing.B) {
	p := mustCompile(b, &destinationv1.InboundPolicy{Authorization: []*destinationv1.AuthorizationPolicy{
		pol("default/no-admin", deny, rule(nil, []*op{{Paths: []string{"/admin*", "/debug*"}}})),
		pol("default/deny-plaintext", deny, rule([]*src{{NotPrincipals: []string{"*"}}}, nil)),
		pol("default/web", allow, rule(
			[]*src{{Principals: []string{"cluster.local/ns/default/sa/web"}}, {Namespaces: []string{"ops"}}},
			[]*op{{Methods: []string{"GET", "HEAD"}, Paths: []string{"/api/*"}}},
		)),
		pol("default/metrics", allow, rule([]*src{{Namespaces: []string{"monitoring"}}}, []*op{{Paths: []string{"/metrics"}}})),
	}})
	req := mtls(web, "GET", "/api/v1/users")
	if !p.Authorize(req).Allowed {
		b.Fatal("denied")
	}
	b.ReportAllocs()
	for b.Loop() {
		p.Authorize(req)
	}
}
