package config

import (
	"path/filepath"
	"strings"
	"testing"
)

const reviewsDR = `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: reviews
spec:
  host: reviews
  subsets:
  - name: v1
    labels:
      version: v1
  - name: v2
    labels:
      version: v2
`

// reviewsVS has its weight at line 14 and its regex at line 10.
const reviewsVS = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: reviews
spec:
  hosts:
  - reviews
  http:
  - match:
    - uri: {regex: "^/api/.*"}
    route:
    - destination:
        host: reviews
        subset: v1
      weight: 90
    - destination:
        host: reviews
        subset: v2
      weight: 10
    timeout: 5s
`

const echoRoute = `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: echo
spec:
  parentRefs:
  - group: ""
    kind: Service
    name: echo
  rules:
  - backendRefs:
    - name: echo
      port: 80
      weight: 1
    timeouts:
      request: 10s
`

// Each invalid document is refused with its file, line and field.
func TestTrafficProblems(t *testing.T) {
	sub := func(doc, old, new string) string {
		if !strings.Contains(doc, old) {
			t.Fatalf("%q is not in the document", old)
		}
		return strings.Replace(doc, old, new, 1)
	}
	for _, tc := range []struct {
		name, yaml string
		line       int
		field, msg string
	}{
		{"unknown field", sub(reviewsVS, "    timeout: 5s\n", "    timeout: 5s\n    timout: 5s\n"), 21, "spec.http[0].timout", "unknown field"},
		{"snake case", sub(reviewsVS, "    timeout: 5s\n", "    per_try_timeout: 5s\n"), 20, "spec.http[0].per_try_timeout", "unknown field"},
		{"proto name", sub(reviewsVS, "  hosts:", "  export_to: ['*']\n  hosts:"), 6, "spec.export_to", "spelled exportTo"},
		{"unsupported field", sub(reviewsVS, "    timeout: 5s\n", "    mirror: {host: reviews}\n"), 20, "spec.http[0].mirror", "not supported"},
		{"bad regex", sub(reviewsVS, `^/api/.*`, `^/api/(`), 10, "spec.http[0].match[0].uri.regex", "bad regex"},
		{"negative weight", sub(reviewsVS, "weight: 90", "weight: -10"), 15, "spec.http[0].route[0].weight", "negative"},
		{"weight above 100", sub(reviewsVS, "weight: 90", "weight: 190"), 15, "spec.http[0].route[0].weight", "above 100"},
		{"weights add up to 0", sub(sub(reviewsVS, "weight: 90", "weight: 0"), "weight: 10", "weight: 0"), 11, "spec.http[0].route", "add up to 0"},
		{"undefined subset", sub(reviewsVS, "subset: v2", "subset: v3"), 18, "spec.http[0].route[1].destination.subset", `subset "v3" of service reviews.default is not defined`},
		{"wildcard host", sub(reviewsVS, "  - reviews\n", "  - '*.example.com'\n"), 7, "spec.hosts[0]", "wildcard"},
		{"external host", sub(reviewsVS, "  - reviews\n", "  - reviews.example.com\n"), 7, "spec.hosts[0]", "not a service of this cluster"},
		{"gateway", sub(reviewsVS, "  hosts:", "  gateways: [bookinfo-gateway]\n  hosts:"), 6, "spec.gateways[0]", "inside the mesh only"},
		{"duration as a number", sub(reviewsVS, "timeout: 5s", "timeout: 5"), 20, "spec.http[0].timeout", "duration"},
		{"bad duration", sub(reviewsVS, "timeout: 5s", "timeout: 5 seconds"), 20, "spec.http[0].timeout", "not a duration"},
		{"duration under 1ms", sub(reviewsVS, "timeout: 5s", "timeout: 10us"), 20, "spec.http[0].timeout", "at least 1ms"},
		{"two of a oneof", sub(reviewsVS, `{regex: "^/api/.*"}`, `{exact: /a, prefix: /b}`), 10, "spec.http[0].match[0].uri.prefix", "only one of exact and prefix"},
		{"retry on", sub(reviewsVS, "timeout: 5s", "retries: {attempts: 2, retryOn: '5xx,teapot'}"), 20, "spec.http[0].retries.retryOn", `"teapot" is not a retry condition`},
		{"fault status", sub(reviewsVS, "timeout: 5s", "fault: {abort: {httpStatus: 700, percentage: {value: 5}}}"), 20, "spec.http[0].fault.abort.httpStatus", "not an HTTP status"},
		{"bad balancer", sub(reviewsDR, "  subsets:", "  trafficPolicy:\n    loadBalancer:\n      simple: FASTEST\n  subsets:"), 9, "spec.trafficPolicy.loadBalancer.simple", `"FASTEST" is not one of`},
		{"sticky sessions", sub(reviewsDR, "  subsets:", "  trafficPolicy:\n    loadBalancer:\n      consistentHash: {useSourceIp: true}\n  subsets:"), 9, "spec.trafficPolicy.loadBalancer.consistentHash", "not supported"},
		{"negative pool", sub(reviewsDR, "  subsets:", "  trafficPolicy:\n    connectionPool:\n      tcp: {maxConnections: -1}\n  subsets:"), 9, "spec.trafficPolicy.connectionPool.tcp.maxConnections", "negative"},
		{"subset twice", sub(reviewsDR, "name: v2", "name: v1"), 11, "spec.subsets[1].name", "also defined"},
		{"route parent is a gateway", sub(echoRoute, "  - group: \"\"\n    kind: Service\n    name: echo\n", "  - name: ingress\n"), 7, "spec.parentRefs[0]", "no Gateways"},
		{"route unknown field", sub(echoRoute, "      weight: 1\n", "      wieght: 1\n"), 14, "spec.rules[0].backendRefs[0].wieght", "unknown field"},
		{"route bad duration", sub(echoRoute, "request: 10s", "request: 1.5s"), 16, "spec.rules[0].timeouts.request", "GEP-2257"},
		{"route negative weight", sub(echoRoute, "weight: 1", "weight: -1"), 14, "spec.rules[0].backendRefs[0].weight", "not in 0-1000000"},
		{"route mirror", sub(echoRoute, "  - backendRefs:\n", "  - filters:\n    - type: RequestMirror\n      requestMirror: {backendRef: {name: echo, port: 80}}\n    backendRefs:\n"), 12, "spec.rules[0].filters[0].type", "not supported"},
		{"route version", sub(echoRoute, "gateway.networking.k8s.io/v1", "gateway.networking.k8s.io/v1alpha2"), 1, "apiVersion", "use gateway.networking.k8s.io/v1"},
		{"authz condition", "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: a}\nspec:\n  rules:\n  - when:\n    - key: request.headers[x]\n      values: [a]\n", 6, "spec.rules[0].when", "not supported"},
		{"authz port", "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: a}\nspec:\n  rules:\n  - to:\n    - operation:\n        ports: [http]\n", 8, "spec.rules[0].to[0].operation.ports[0]", "not a port"},
		{"deny without rules", "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: a}\nspec:\n  action: DENY\n", 4, "spec.rules", "never matches"},
		{"port mtls without selector", "apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: a}\nspec:\n  portLevelMtls:\n    8080: {mode: DISABLE}\n", 5, "spec.portLevelMtls", "requires a selector"},
		{"bad mtls mode", "apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: a}\nspec:\n  mtls: {mode: REQUIRED}\n", 5, "spec.mtls.mode", "not one of UNSET, DISABLE, PERMISSIVE, STRICT"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFile(t, dir, "bad.yaml", tc.yaml)
			probs, err := Validate(Options{}, dir)
			if err != nil {
				t.Fatal(err)
			}
			errs := probs.Errors()
			if len(errs) == 0 {
				t.Fatalf("no problem reported; all: %v", probs)
			}
			for _, p := range errs {
				if p.File == filepath.Join(dir, "bad.yaml") && p.Line == tc.line && p.Field == tc.field && strings.Contains(p.Msg, tc.msg) {
					return
				}
			}
			t.Fatalf("want line %d, field %q, message with %q; got\n%v", tc.line, tc.field, tc.msg, errs)
		})
	}
}

// A subset another file defines is found; a file clashing with another
// is refused, naming the other.
func TestTrafficAcrossFiles(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "a-vs.yaml", reviewsVS)
	writeFile(t, dir, "b-dr.yaml", reviewsDR)
	probs, err := Validate(Options{}, dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range probs {
		if !p.Warning || !strings.Contains(p.Msg, "no service reviews.default is known") {
			t.Errorf("unexpected problem %v", p)
		}
	}
	writeFile(t, dir, "c-vs.yaml", strings.Replace(reviewsVS, "name: reviews", "name: reviews-2", 1))
	probs, err = Validate(Options{}, dir)
	if err != nil {
		t.Fatal(err)
	}
	if errs := probs.Errors(); len(errs) != 1 || !strings.HasSuffix(errs[0].File, "c-vs.yaml") || errs[0].Line != 7 ||
		!strings.Contains(errs[0].Msg, "already routed by VirtualService default/reviews") {
		t.Fatalf("problems: %v", probs)
	}
}

const reviewsService = `apiVersion: v1
kind: Service
metadata:
  name: reviews
spec:
  selector:
    app: reviews
  ports:
  - port: 9080
`

// A bad edit of a VirtualService keeps the last good one in force; a
// subset still in use cannot be taken away; a route to a subset not yet
// defined waits for it.
func TestLoaderTraffic(t *testing.T) {
	dir := t.TempDir()
	l := NewLoader(dir, Options{})
	writeFile(t, dir, "svc.yaml", reviewsService)
	writeFile(t, dir, "dr.yaml", reviewsDR)
	writeFile(t, dir, "vs.yaml", reviewsVS)
	if res := mustReload(t, l); !res.Changed || len(res.Rejected)+len(res.Warnings) > 0 {
		t.Fatalf("first load: %+v", res)
	}
	routes := func() string {
		var out []string
		for _, r := range l.Config().Traffic.Policy("reviews.default", nil).GetHttpRoutes() {
			if r.GetFault().GetAbort().GetHttpStatus() == 404 {
				out = append(out, "404") // what matches no route
			}
			for _, b := range r.GetBackends() {
				out = append(out, b.GetSubset())
			}
		}
		return strings.Join(out, ",")
	}
	if got := routes(); got != "v1,v2,404" {
		t.Fatalf("routes to %q", got)
	}
	good := l.Config()

	writeFile(t, dir, "vs.yaml", strings.Replace(reviewsVS, "weight: 90", "weight: -90", 1))
	res := mustReload(t, l)
	if res.Changed || len(res.Rejected) != 1 || res.Rejected[0].Field != "spec.http[0].route[0].weight" || l.Config() != good {
		t.Fatalf("bad edit: %+v", res)
	}

	// Taking v2 away while the route uses it is refused, at the
	// DestinationRule.
	writeFile(t, dir, "vs.yaml", reviewsVS)
	writeFile(t, dir, "dr.yaml", strings.Replace(reviewsDR, "  - name: v2\n    labels:\n      version: v2\n", "", 1))
	res = mustReload(t, l)
	if len(res.Rejected) != 1 || !strings.HasSuffix(res.Rejected[0].File, "dr.yaml") || res.Rejected[0].Field != "spec.subsets" ||
		!strings.Contains(res.Rejected[0].Msg, `subset "v2" of service reviews.default is still used at`) {
		t.Fatalf("subset removal: %+v", res)
	}
	if got := routes(); got != "v1,v2,404" {
		t.Fatalf("routes to %q", got)
	}

	// A route to v3 waits until the DestinationRule defines it.
	writeFile(t, dir, "dr.yaml", reviewsDR)
	writeFile(t, dir, "vs.yaml", strings.Replace(reviewsVS, "subset: v2", "subset: v3", 1))
	res = mustReload(t, l)
	if len(res.Rejected) != 1 || res.Rejected[0].Field != "spec.http[0].route[1].destination.subset" {
		t.Fatalf("undefined subset: %+v", res)
	}
	writeFile(t, dir, "dr.yaml", reviewsDR+"  - name: v3\n    labels:\n      version: v3\n")
	res = mustReload(t, l)
	if !res.Changed || len(res.Loaded) != 2 || len(res.Rejected) > 0 {
		t.Fatalf("after v3 is defined: %+v", res)
	}
	if got := routes(); got != "v1,v3,404" {
		t.Fatalf("routes to %q", got)
	}
}
