package inject_test

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/meshlite/meshlite/internal/inject"
	"github.com/meshlite/meshlite/internal/inject/injecttest"
)

// deployment is a Deployment in namespace ns with the given annotations
// on the workload and on its pod template, and extra pod spec lines.
func deployment(ns, workloadAnn, podAnn, specExtra string) string {
	return fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: %s
  annotations: {%s}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata:
      labels: {app: web}
      annotations: {%s}
    spec:
%s      containers:
      - name: web
        image: nginx
`, ns, workloadAnn, podAnn, specExtra)
}

func TestSkipReasons(t *testing.T) {
	injected, _, err := inject.Transform([]byte(deployment("a", "", "", "")), inject.Options{Version: testVersion})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, input string
		opts        inject.Options
		want        string
	}{
		{"hostNetwork", deployment("a", "", "", "      hostNetwork: true\n"), inject.Options{}, inject.ReasonHostNetwork},
		{"already injected", string(injected), inject.Options{}, inject.ReasonAlreadyInjected},
		{"proxy-version annotation", deployment("a", "", "meshlite.io/proxy-version: v1", ""), inject.Options{}, inject.ReasonAlreadyInjected},
		{"init container by hand", deployment("a", "", "", "      initContainers: [{name: meshlite-init, image: x}]\n"), inject.Options{}, inject.ReasonAlreadyInjected},
		{"disabled on the pod template", deployment("a", "", "meshlite.io/inject: disabled", ""), inject.Options{},
			"disabled by annotation meshlite.io/inject=disabled on the pod template"},
		{"disabled on the workload", deployment("a", "meshlite.io/inject: disabled", "", ""), inject.Options{},
			"disabled by annotation meshlite.io/inject=disabled on the Deployment"},
		{"disabled on the namespace (option)", deployment("a", "", "", ""),
			inject.Options{Namespaces: map[string]map[string]string{"a": {"meshlite.io/inject": "disabled"}}},
			"disabled by annotation meshlite.io/inject=disabled on namespace a"},
		{"disabled on the default namespace", strings.Replace(deployment("x", "", "", ""), "  namespace: x\n", "", 1),
			inject.Options{DefaultNamespace: "prod", Namespaces: map[string]map[string]string{"prod": {"meshlite.io/inject": "disabled"}}},
			"disabled by annotation meshlite.io/inject=disabled on namespace prod"},
		{"disabled on the namespace (document)", "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: a\n  annotations: {meshlite.io/inject: disabled}\n---\n" + deployment("a", "", "", ""),
			inject.Options{}, "disabled by annotation meshlite.io/inject=disabled on namespace a"},
		{"port conflict", deployment("a", "", "", "      initContainers: [{name: i, image: x, ports: [{containerPort: 4143}]}]\n"), inject.Options{},
			"container i uses port 4143, which the proxy needs"},
		{"no containers", "apiVersion: batch/v1\nkind: Job\nmetadata: {name: j}\nspec: {}\n", inject.Options{}, inject.ReasonNoTemplate},
		{"unsupported kind", "apiVersion: v1\nkind: Service\nmetadata: {name: s}\n", inject.Options{}, inject.ReasonUnsupportedKind},
		{"a Deployment of another group", "apiVersion: example.com/v1\nkind: Deployment\nmetadata: {name: d}\nspec: {template: {spec: {containers: [{name: a}]}}}\n",
			inject.Options{}, inject.ReasonUnsupportedKind},
		{"no kind", "replicas: 3\n", inject.Options{}, inject.ReasonNoKind},
	} {
		t.Run(c.name, func(t *testing.T) {
			c.opts.Version = testVersion
			out, results, err := inject.Transform([]byte(c.input), c.opts)
			if err != nil {
				t.Fatal(err)
			}
			last := results[len(results)-1]
			if last.Action != inject.Skipped || last.Reason != c.want {
				t.Errorf("got %q, want skipped: %s", last, c.want)
			}
			if !bytes.Equal(out, []byte(c.input)) {
				t.Errorf("a skipped document changed:\n%s", out)
			}
		})
	}
}

func TestEnabledOverridesNamespace(t *testing.T) {
	opts := inject.Options{Version: testVersion, Namespaces: map[string]map[string]string{"a": {"meshlite.io/inject": "disabled"}}}
	for _, in := range []string{
		deployment("a", "meshlite.io/inject: enabled", "", ""),
		deployment("a", "meshlite.io/inject: disabled", "meshlite.io/inject: enabled", ""),
	} {
		_, results, err := inject.Transform([]byte(in), opts)
		if err != nil {
			t.Fatal(err)
		}
		if results[0].Action != inject.Injected {
			t.Errorf("%s, want injected", results[0])
		}
	}
}

// TestAnnotationLayers checks which layer wins for each tunable, looking at
// the proxy's environment and resources in the output.
func TestAnnotationLayers(t *testing.T) {
	opts := inject.Options{
		Version: testVersion,
		Proxy:   inject.ProxyConfig{LogLevel: "warn", CPURequest: "50m", OpaquePorts: "25"},
		Namespaces: map[string]map[string]string{"a": {
			"meshlite.io/proxy-log-level": "error", "meshlite.io/proxy-memory-request": "40Mi", "meshlite.io/opaque-ports": "3306",
		}},
	}
	for _, c := range []struct {
		name, workload, pod string
		want, notWant       []string
	}{
		{"options", "", "", []string{"value: error", "cpu: 50m", "memory: 40Mi", "value: \"3306\""}, nil},
		{"workload", "meshlite.io/proxy-log-level: debug, meshlite.io/opaque-ports: '5432'", "",
			[]string{"value: debug", "value: \"5432\""}, []string{"value: error"}},
		{"pod template", "meshlite.io/proxy-log-level: debug", "meshlite.io/proxy-log-level: trace, meshlite.io/proxy-cpu-request: 75m",
			[]string{"value: trace", "cpu: 75m"}, []string{"value: debug", "cpu: 50m"}},
		{"ranges", "", "meshlite.io/opaque-ports: '7000-7002,7000'", []string{"value: 7000,7001,7002"}, nil},
		{"await", "", "meshlite.io/proxy-await: disabled", []string{"path: /live\n            port: 4191\n          periodSeconds: 1"}, nil},
		{"uid", "", "meshlite.io/proxy-uid: '3000'", []string{"--proxy-uid=3000", "runAsUser: 3000"}, []string{"2102"}},
		{"skip ports", "meshlite.io/skip-inbound-ports: '80'", "meshlite.io/skip-outbound-ports: '443, 8000-8080'",
			[]string{"--inbound-ports-to-ignore=4191,80", "--outbound-ports-to-ignore=443,8000-8080"}, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			out, _, err := inject.Transform([]byte(deployment("a", c.workload, c.pod, "")), opts)
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range c.want {
				if !bytes.Contains(out, []byte(w)) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			for _, w := range c.notWant {
				if bytes.Contains(out, []byte(w)) {
					t.Errorf("output has %q", w)
				}
			}
		})
	}
}

func TestAnnotationErrors(t *testing.T) {
	for _, c := range []struct{ ann, want string }{
		{"meshlite.io/inject: maybe", `annotation meshlite.io/inject: "maybe" on the pod template: want enabled or disabled`},
		{"meshlite.io/proxy-log-level: loud", `meshlite.io/proxy-log-level: "loud"`},
		{"meshlite.io/proxy-cpu-request: lots", `meshlite.io/proxy-cpu-request: "lots"`},
		{"meshlite.io/proxy-memory-limit: 1Gb", `meshlite.io/proxy-memory-limit: "1Gb"`},
		{"meshlite.io/skip-inbound-ports: '0'", `meshlite.io/skip-inbound-ports: "0"`},
		{"meshlite.io/skip-outbound-ports: 90-80", `meshlite.io/skip-outbound-ports: "90-80"`},
		{"meshlite.io/opaque-ports: '1-2000'", "more than 1024 ports"},
		{"meshlite.io/proxy-uid: '0'", "not root"},
		{"meshlite.io/proxy-uid: me", `meshlite.io/proxy-uid: "me"`},
		{"meshlite.io/proxy-await: later", `meshlite.io/proxy-await: "later"`},
		{"meshlite.io/proxy-cpu-request: '2'", "proxy cpu request 2 exceeds its limit 1"},
	} {
		t.Run(c.ann, func(t *testing.T) {
			out, _, err := inject.Transform([]byte(deployment("a", "", c.ann, "")), inject.Options{})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want it to contain %q", err, c.want)
			}
			if !strings.Contains(err.Error(), "Deployment a/web") || out != nil {
				t.Errorf("err = %v (want the object named), out = %q (want none)", err, out)
			}
			var ae *inject.AnnotationError
			if !strings.Contains(c.want, "exceeds") && !errors.As(err, &ae) {
				t.Errorf("%v is not an AnnotationError", err)
			}
		})
	}
}

func TestOptionsValidate(t *testing.T) {
	for _, c := range []struct {
		opts inject.Options
		want string
	}{
		{inject.Options{ImagePullPolicy: "Sometimes"}, "image pull policy"},
		{inject.Options{Proxy: inject.ProxyConfig{LogLevel: "chatty"}}, `default for meshlite.io/proxy-log-level "chatty"`},
		{inject.Options{Proxy: inject.ProxyConfig{UID: -1}}, "meshlite.io/proxy-uid"},
		{inject.Options{TrustAnchorsPEM: []byte("not pem")}, "trust anchors: trailing data that is not PEM"},
		{inject.Options{TrustAnchorsPEM: []byte("\n")}, "no PEM CERTIFICATE block"},
		{inject.Options{TrustAnchorsPEM: []byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")}, `PEM block "PRIVATE KEY"`},
		{inject.Options{Namespaces: map[string]map[string]string{"x": {"meshlite.io/inject": "no"}}}, "on namespace x"},
	} {
		err := c.opts.Validate()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Validate(%+v) = %v, want %q", c.opts, err, c.want)
		}
		if _, _, err := inject.Transform([]byte(deployment("a", "", "", "")), c.opts); err == nil {
			t.Errorf("Transform accepted %+v", c.opts)
		}
	}
	if err := (inject.Options{}).Validate(); err != nil {
		t.Errorf("the zero Options: %v", err)
	}
}

func TestLists(t *testing.T) {
	in := `apiVersion: apps/v1
kind: DeploymentList
items:
- metadata: {name: a, namespace: n}
  spec: {template: {spec: {containers: [{name: a, image: a}]}}}
- metadata: {name: b, namespace: n, annotations: {meshlite.io/inject: disabled}}
  spec: {template: {spec: {containers: [{name: b, image: b}]}}}
`
	out, results, err := inject.Transform([]byte(in), inject.Options{Version: testVersion})
	if err != nil {
		t.Fatal(err)
	}
	if len(results) != 2 || results[0].String() != "Deployment n/a: injected" || results[1].Action != inject.Skipped ||
		results[0].Item != 0 || results[1].Item != 1 || results[1].Document != 0 {
		t.Errorf("results: %+v", results)
	}
	back, _, err := inject.Uninject(out)
	if err != nil {
		t.Fatal(err)
	}
	injecttest.SameObjects(t, []byte(in), back)
}

func TestNamespacesFromInput(t *testing.T) {
	in := "apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: Namespace, metadata: {name: a, annotations: {meshlite.io/inject: disabled}}}\n" +
		"---\napiVersion: v1\nkind: Namespace\nmetadata: {name: b}\n---\napiVersion: v1\nkind: Service\nmetadata: {name: s}\n"
	got, err := inject.Namespaces([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got["a"]["meshlite.io/inject"] != "disabled" || got["b"] == nil || len(got["b"]) != 0 {
		t.Errorf("Namespaces = %v", got)
	}
	// An option wins over a document.
	opts := inject.Options{Version: testVersion, Namespaces: map[string]map[string]string{"a": {"meshlite.io/inject": "enabled"}}}
	_, results, err := inject.Transform([]byte(in+"---\n"+deployment("a", "", "", "")), opts)
	if err != nil {
		t.Fatal(err)
	}
	if r := results[len(results)-1]; r.Action != inject.Injected {
		t.Errorf("%s, want injected", r)
	}
}

func TestBadInput(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"a: [1\n", "document 1: YAML at line 1"},
		{"apiVersion: v1\nkind: Pod\n---\n- a\n- b\n", "document 2: YAML at line 4: a document must be a mapping"},
		{"a: 1\n--- !!str\nb\n", "a second document"},
		{deployment("a", "", "", "      initContainers: 3\n"), "spec.initContainers at line 14 is a scalar"},
		{"apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec: {template: {metadata: {annotations: {meshlite.io/inject-status: x}}, spec: {containers: [{name: a}]}}}\n", ""},
	} {
		_, _, err := inject.Transform([]byte(c.in), inject.Options{})
		if c.want == "" {
			if err != nil {
				t.Errorf("%q: %v", c.in, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: err = %v, want %q", c.in, err, c.want)
		}
	}
	_, _, err := inject.Uninject([]byte("apiVersion: v1\nkind: Pod\nmetadata: {name: p, annotations: {meshlite.io/inject-status: '{\"bogus\":1}'}}\nspec: {containers: [{name: a}]}\n"))
	if err == nil || !strings.Contains(err.Error(), "Pod p: annotation meshlite.io/inject-status") {
		t.Errorf("a bad status annotation: %v", err)
	}
}

func TestUninjectLeavesHandMadeSidecars(t *testing.T) {
	in := []byte("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: a, image: a}, {name: meshlite-proxy, image: p}]}\n")
	out, results, err := inject.Uninject(in)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out, in) || results[0].Action != inject.Unchanged || results[0].Reason != inject.ReasonNoStatus {
		t.Errorf("%s\n%s", results[0], out)
	}
}

// TestUninjectKeepsWhatTheUserAdded: labels, annotations, containers and
// volumes added after injection stay.
func TestUninjectKeepsWhatTheUserAdded(t *testing.T) {
	out, _, err := inject.Transform([]byte("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: a, image: a}]}\n"), inject.Options{Version: testVersion})
	if err != nil {
		t.Fatal(err)
	}
	edited := strings.Replace(string(out), "  annotations:\n", "  annotations:\n    mine: kept\n", 1)
	edited = strings.Replace(edited, "  labels:\n", "  labels:\n    tier: kept\n", 1)
	back, _, err := inject.Uninject([]byte(edited))
	if err != nil {
		t.Fatal(err)
	}
	want := "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  labels:\n    tier: kept\n  annotations:\n    mine: kept\nspec:\n  containers: [{name: a, image: a}]\n"
	injecttest.SameObjects(t, []byte(want), back)
}

func TestUIDWarning(t *testing.T) {
	_, results, err := inject.Transform([]byte(deployment("a", "", "", "      securityContext: {runAsUser: 2102}\n")), inject.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(results[0].Warnings) != 1 || !strings.Contains(results[0].String(), "container web runs as uid 2102, the proxy's") {
		t.Errorf("%s", results[0])
	}
}

func FuzzTransform(f *testing.F) {
	for _, s := range []string{
		deployment("a", "", "", ""),
		"apiVersion: v1\nkind: List\nitems: [{kind: Pod, apiVersion: v1, metadata: {name: p}, spec: {containers: [{name: a}]}}]\n",
		`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{"containers":[{"name":"a"}]}}`,
		"---\n# c\n--- #x\napiVersion: v1\nkind: Service\n",
		"apiVersion: batch/v1\nkind: CronJob\nspec: {jobTemplate: {spec: {template: {metadata: ~, spec: {containers: [{name: a}], volumes: ~}}}}}\n",
	} {
		f.Add([]byte(s))
	}
	opts := inject.Options{Version: testVersion}
	f.Fuzz(func(t *testing.T, in []byte) {
		out, _, err := inject.Transform(in, opts)
		if err != nil {
			return
		}
		again, _, err := inject.Transform(out, opts)
		if err != nil {
			t.Fatalf("injected output does not parse: %v\n%s", err, out)
		}
		if !bytes.Equal(again, out) {
			t.Fatalf("not idempotent:\n%s\n---\n%s", out, again)
		}
		if _, _, err := inject.Uninject(out); err != nil {
			t.Fatalf("uninject: %v", err)
		}
	})
}

// TestAliases: a template that shares nodes with the rest of the document
// through anchors is changed on its own copy; the anchor's other uses (a
// selector) stay as they were.
func TestAliases(t *testing.T) {
	in := `apiVersion: apps/v1
kind: Deployment
metadata:
  name: shared
  labels: &labels {app: shared}
  annotations: &ann {team: a}
spec:
  selector:
    matchLabels: *labels
  template:
    metadata:
      labels: *labels
      annotations: *ann
    spec: &spec
      containers:
      - name: app
        image: app
      volumes: []
---
apiVersion: v1
kind: Pod
metadata: {name: p, annotations: {meshlite.io/proxy-log-level: debug}}
spec: {containers: [{name: a, image: a}]}
`
	out, results, err := inject.Transform([]byte(in), inject.Options{Version: testVersion})
	if err != nil {
		t.Fatal(err)
	}
	if results[0].Action != inject.Injected {
		t.Fatalf("%s", results[0])
	}
	objs, err := injecttest.Objects(out)
	if err != nil {
		t.Fatal(err)
	}
	d := objs[0].(map[string]any)
	sel := d["spec"].(map[string]any)["selector"].(map[string]any)["matchLabels"].(map[string]any)
	meta := d["metadata"].(map[string]any)
	if len(sel) != 1 || len(meta["labels"].(map[string]any)) != 1 || len(meta["annotations"].(map[string]any)) != 1 {
		t.Errorf("the anchor's other uses changed: selector %v, metadata %v", sel, meta)
	}
	back, _, err := inject.Uninject(out)
	if err != nil {
		t.Fatal(err)
	}
	injecttest.SameObjects(t, []byte(in), back)
	again, _, err := inject.Transform(out, inject.Options{Version: testVersion})
	if err != nil || !bytes.Equal(again, out) {
		t.Errorf("not idempotent with aliases: %v", err)
	}
}
