package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/meshlite/meshlite/destination/health"
	"github.com/meshlite/meshlite/destination/registry"
	destinationv1 "github.com/meshlite/meshlite/internal/api/destination/v1"
)

const goodWeb = `apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  clusterIP: 10.96.0.10
  selector:
    app: web
  ports:
  - port: 80
    targetPort: 8080
`

func TestParseKubectlService(t *testing.T) {
	data, err := os.ReadFile("testdata/kubectl-service.yaml")
	if err != nil {
		t.Fatal(err)
	}
	f, probs := ParseFile("kubectl-service.yaml", data, Options{})
	if len(probs) > 0 {
		t.Fatalf("problems:\n%v", probs)
	}
	if len(f.Services) != 1 || len(f.HealthChecks) != 1 || len(f.Skipped) != 1 {
		t.Fatalf("got %d services, %d checks, %d skipped", len(f.Services), len(f.HealthChecks), len(f.Skipped))
	}
	s := f.Services[0]
	if s.Key() != "web.shop" || len(s.Addrs) != 1 || s.Addrs[0].String() != "10.96.0.10" {
		t.Errorf("service %s at %v", s.Key(), s.Addrs)
	}
	want := []ServicePort{
		{Name: "http", Port: 80, TargetPortName: "http", Protocol: registry.ProtocolHTTP1},
		{Name: "grpc", Port: 9090, TargetPort: 9090, Protocol: registry.ProtocolHTTP2},
	}
	for i, p := range s.Ports {
		if p != want[i] {
			t.Errorf("port %d = %+v, want %+v", i, p, want[i])
		}
	}
	if s.Policy.GetBalancer() != destinationv1.Balancer_BALANCER_LEAST_REQUEST {
		t.Errorf("balancer %v", s.Policy.GetBalancer())
	}
	h := f.HealthChecks[0]
	wantSpec := health.Spec{Kind: health.KindHTTP, Path: "/healthz", ExpectedStatus: 204, Interval: 5 * time.Second,
		Timeout: 500 * time.Millisecond, HealthyThreshold: 1, UnhealthyThreshold: 2}
	if h.ServiceKey() != "web.shop" || h.PortName != "http" || h.Spec != wantSpec {
		t.Errorf("health check %+v", h)
	}
	if sk := f.Skipped[0]; sk.Kind != "ConfigMap" || sk.Line != 58 {
		t.Errorf("skipped %+v", sk)
	}
}

// Each bad file is reported with its file, line and field.
func TestBadFiles(t *testing.T) {
	for _, tc := range []struct {
		name, yaml string
		line       int
		field, msg string
	}{
		{"syntax: open flow mapping", "apiVersion: v1\nkind: Service\nmetadata: {name: web\n", 3, "", "YAML syntax"},
		{"syntax: mapping in a value", "apiVersion: v1\nkind: Service\nmetadata: name: web\n", 3, "", "mapping values are not allowed"},
		{"syntax: bad indentation", "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\n namespace: x\n", 5, "", "YAML syntax"},
		{"unknown field", strings.Replace(goodWeb, "    targetPort: 8080\n", "    targetPort: 8080\n    tragetPort: 1\n", 1), 12, "spec.ports[0].tragetPort", "unknown field"},
		{"unknown top-level field", goodWeb + "extra: 1\n", 12, "extra", "unknown field"},
		{"empty selector", strings.Replace(goodWeb, "  selector:\n    app: web\n", "  selector: {}\n", 1), 7, "spec.selector", "matches no workload"},
		{"no selector", strings.Replace(goodWeb, "  selector:\n    app: web\n", "", 1), 5, "spec.selector", "required"}, // no selector: the line of spec
		{"selector value no label can have", strings.Replace(goodWeb, "app: web", "app: not a label", 1), 8, "spec.selector[app]", "can never match"},
		{"port out of range", strings.Replace(goodWeb, "port: 80\n", "port: 70000\n", 1), 10, "spec.ports[0].port", "out of range"},
		{"targetPort out of range", strings.Replace(goodWeb, "targetPort: 8080", "targetPort: 0x10000", 1), 11, "spec.ports[0].targetPort", "out of range"},
		{"port as a string", strings.Replace(goodWeb, "port: 80\n", "port: \"80\"\n", 1), 10, "spec.ports[0].port", "must be an integer"},
		{"two ports without names", goodWeb + "  - port: 81\n", 10, "spec.ports[0].name", "required when"},
		{"bad address", strings.Replace(goodWeb, "10.96.0.10", "10.96.0.300", 1), 6, "spec.clusterIP", "not a unicast IP"},
		{"bad balancer", strings.Replace(goodWeb, "  name: web\n", "  name: web\n  annotations:\n    meshlite.io/balancer: fastest\n", 1), 6, "metadata.annotations[meshlite.io/balancer]", "unknown balancer"},
		{"bad name", strings.Replace(goodWeb, "name: web", "name: Web_1", 1), 4, "metadata.name", "Web_1"},
		{"no kind", "apiVersion: v1\nmetadata: {name: web}\n", 1, "kind", "required"},
		{"not a mapping", "- a\n- b\n", 1, "", "must be a mapping"},
		{"health check with two kinds", "apiVersion: meshlite.io/v1alpha1\nkind: HealthCheck\nmetadata: {name: web}\nspec:\n  service: web\n  http: {}\n  tcp: {}\n", 4, "spec", "exactly one of"},
		{"health check interval", "apiVersion: meshlite.io/v1alpha1\nkind: HealthCheck\nmetadata: {name: web}\nspec:\n  service: web\n  interval: soon\n  tcp: {}\n", 6, "spec.interval", "not a duration"},
		{"health check timeout", "apiVersion: meshlite.io/v1alpha1\nkind: HealthCheck\nmetadata: {name: web}\nspec:\n  service: web\n  interval: 1s\n  timeout: -2s\n  tcp: {}\n", 7, "spec.timeout", "must be positive"},
		{"health check threshold", "apiVersion: meshlite.io/v1alpha1\nkind: HealthCheck\nmetadata: {name: web}\nspec:\n  service: web\n  healthyThreshold: 0\n  grpc: {}\n", 6, "spec.healthyThreshold", "at least 1"},
		{"duplicate service in one file", goodWeb + "---\n" + strings.Replace(goodWeb, "10.96.0.10", "10.96.0.11", 1), 13, "metadata.name", "already declared"},
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
				t.Fatal("no problem reported")
			}
			p := errs[0]
			if p.File != filepath.Join(dir, "bad.yaml") || p.Line != tc.line || p.Field != tc.field || !strings.Contains(p.Msg, tc.msg) {
				t.Fatalf("got %q (line %d, field %q); want line %d, field %q, message with %q\nall: %v", p.Error(), p.Line, p.Field, tc.line, tc.field, tc.msg, probs)
			}
			if !strings.HasPrefix(p.Error(), p.File+":") {
				t.Errorf("Error() = %q does not start with file:line", p.Error())
			}
		})
	}
}

func TestValidateAcrossFiles(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "a.yaml", goodWeb)
	writeFile(t, dir, "b.yaml", strings.Replace(goodWeb, "name: web", "name: api", 1))
	writeFile(t, dir, "c.yaml", "apiVersion: meshlite.io/v1alpha1\nkind: HealthCheck\nmetadata: {name: x}\nspec:\n  service: nobody\n  tcp: {}\n")
	writeFile(t, dir, "notes.txt", "not read")
	probs, err := Validate(Options{}, dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(probs) != 2 {
		t.Fatalf("problems: %v", probs)
	}
	if p := probs[0]; !strings.HasSuffix(p.File, "b.yaml") || p.Line != 6 || p.Field != "spec.clusterIP" || !strings.Contains(p.Msg, "service default/web") {
		t.Errorf("duplicate address: %v", p)
	}
	if p := probs[1]; !p.Warning || !strings.HasSuffix(p.File, "c.yaml") || probs.Errors()[0] != probs[0] {
		t.Errorf("orphan check: %v", p)
	}
	if _, err := Validate(Options{}, filepath.Join(dir, "missing")); err == nil {
		t.Error("Validate of a missing directory: no error")
	}
}

func TestLoaderKeepsLastGood(t *testing.T) {
	dir := t.TempDir()
	l := NewLoader(dir, Options{})
	writeFile(t, dir, "web.yaml", goodWeb)
	res := mustReload(t, l)
	if !res.Changed || len(l.Config().Services) != 1 {
		t.Fatalf("first load: %+v", res)
	}
	good := l.Config()

	writeFile(t, dir, "web.yaml", strings.Replace(goodWeb, "port: 80\n", "port: 0\n", 1))
	res = mustReload(t, l)
	if res.Changed || len(res.Rejected) != 1 || res.Rejected[0].Field != "spec.ports[0].port" || l.Config() != good {
		t.Fatalf("bad edit: %+v", res)
	}
	if res = mustReload(t, l); len(res.Rejected) != 0 {
		t.Fatalf("the same bad file is reported again: %+v", res)
	}

	// A second file that takes web's address is refused while web has
	// it, and loads once web lets it go.
	other := strings.Replace(goodWeb, "name: web", "name: other", 1)
	writeFile(t, dir, "other.yaml", other)
	res = mustReload(t, l)
	if res.Changed || len(res.Rejected) != 1 || res.Rejected[0].Field != "spec.clusterIP" {
		t.Fatalf("conflict: %+v", res)
	}
	writeFile(t, dir, "web.yaml", strings.Replace(goodWeb, "10.96.0.10", "10.96.0.20", 1))
	res = mustReload(t, l)
	if !res.Changed || len(res.Loaded) != 2 || len(l.Config().Services) != 2 {
		t.Fatalf("after the fix: %+v, %d services", res, len(l.Config().Services))
	}

	if err := os.Remove(filepath.Join(dir, "web.yaml")); err != nil {
		t.Fatal(err)
	}
	res = mustReload(t, l)
	if !res.Changed || len(res.Removed) != 1 || len(l.Config().Services) != 1 || l.Config().Services[0].Name != "other" {
		t.Fatalf("after removal: %+v", res)
	}
}

func mustReload(t *testing.T, l *Loader) Result {
	t.Helper()
	res, err := l.Reload()
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func writeFile(t *testing.T, dir, name, content string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// FuzzParseFile: any bytes give a File or problems, never a panic, and a
// File only without problems other than warnings.
func FuzzParseFile(f *testing.F) {
	f.Add([]byte(goodWeb))
	if data, err := os.ReadFile("testdata/kubectl-service.yaml"); err == nil {
		f.Add(data)
	}
	f.Add([]byte("a: &x [*x]\n"))
	f.Add([]byte("apiVersion: v1\nkind: Service\nmetadata: &m {name: web, labels: *m}\n"))
	f.Add([]byte("apiVersion: v1\nkind: Service\nspec: &s\n  ports: [*s]\n"))
	f.Add([]byte("---\n---\nkind: Service\napiVersion: v1\nspec: {ports: [{port: 1, targetPort: x}]}\n"))
	f.Add([]byte(reviewsVS))
	f.Add([]byte(reviewsDR))
	f.Add([]byte(echoRoute))
	f.Add([]byte("apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: a}\nspec:\n  selector: {matchLabels: {app: a}}\n  portLevelMtls: {8080: {mode: STRICT}}\n"))
	f.Add([]byte("apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: a}\nspec:\n  rules: [{from: [{source: {principals: [a]}}], to: [{operation: {ports: ['80']}}]}]\n"))
	for _, name := range []string{"seed-routing.yaml", "bookinfo-details.yaml", "gamma-httproute.yaml", "authorization-policy.yaml"} {
		if data, err := os.ReadFile("../../examples/" + name); err == nil {
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		file, probs := ParseFile("fuzz.yaml", data, Options{})
		if (file == nil) == (len(probs.Errors()) == 0) {
			t.Fatalf("file %v with %d problems", file, len(probs))
		}
	})
}
