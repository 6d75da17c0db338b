// Command kubeschemas writes standalone, strict JSON schemas for Kubernetes
// kinds, the files kubeconform reads with
//
//	kubeconform -strict -schema-location 'DIR/{{.ResourceKind}}{{.KindSuffix}}.json'
//
// It reads the OpenAPI v2 document (api/openapi-spec/swagger.json) of the
// k8s.io/kubernetes module — the version kube-apiserver is built from, so
// the schemas describe exactly the API the tests apply to — and, for each
// kind asked for, inlines every $ref and applies what kubeconform's own
// schemas (yannh/kubernetes-json-schema, "standalone-strict") do:
//
//   - additionalProperties: false on every object with properties (strict);
//   - IntOrString → string or integer, Quantity → string or number;
//   - optional fields may be null (`creationTimestamp: null`, as kubectl
//     writes it);
//   - apiVersion and kind are pinned to the kind's;
//   - descriptions and x-kubernetes-* extensions are dropped, and the JSON
//     is compact (size: about 650 KB for the default kinds).
//
// Run it with `make kubeschemas`; it works offline once the module is in the
// module cache (hack/kube/build.sh puts it there), and otherwise runs
// `go mod download` for it.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
)

// KubeVersion is the k8s.io/kubernetes module the schemas come from; keep
// it equal to internal/kubetest.KubeVersion.
const KubeVersion = "v1.35.4"

// DefaultKinds are the kinds meshctl inject and install are validated
// against: the workloads, what install writes, and what the test corpus
// holds besides. Each is "group/version/Kind" ("v1/Kind" for the core group).
var DefaultKinds = []string{
	"v1/Pod", "v1/ReplicationController", "v1/Service", "v1/ConfigMap", "v1/Secret",
	"v1/ServiceAccount", "v1/Namespace", "v1/PersistentVolumeClaim",
	"apps/v1/Deployment", "apps/v1/ReplicaSet", "apps/v1/StatefulSet", "apps/v1/DaemonSet",
	"batch/v1/Job", "batch/v1/CronJob",
	"rbac.authorization.k8s.io/v1/ClusterRole", "rbac.authorization.k8s.io/v1/ClusterRoleBinding",
	"rbac.authorization.k8s.io/v1/Role", "rbac.authorization.k8s.io/v1/RoleBinding",
	"networking.k8s.io/v1/Ingress", "networking.k8s.io/v1/NetworkPolicy",
	"autoscaling/v2/HorizontalPodAutoscaler", "policy/v1/PodDisruptionBudget",
}

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "kubeschemas:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("kubeschemas", flag.ContinueOnError)
	swagger := fs.String("swagger", "", "swagger.json to read (default: api/openapi-spec/swagger.json of k8s.io/kubernetes@"+KubeVersion+" in the module cache)")
	out := fs.String("out", "", "directory to write the schemas into (required)")
	kinds := fs.String("kinds", strings.Join(DefaultKinds, ","), "comma-separated group/version/Kind list")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *out == "" {
		return errors.New("-out: required")
	}
	path := *swagger
	if path == "" {
		var err error
		if path, err = FindSwagger(false); err != nil {
			return err
		}
	}
	doc, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	files, err := Generate(doc, strings.Split(*kinds, ","))
	if err != nil {
		return err
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	for _, name := range sortedKeys(files) {
		if err := os.WriteFile(filepath.Join(*out, name), files[name], 0o644); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "wrote %s\n", filepath.Join(*out, name))
	}
	return nil
}

// FindSwagger returns the path of swagger.json in the module cache,
// downloading the module first if it is not there (with offline, it fails
// instead).
func FindSwagger(offline bool) (string, error) {
	cmd := exec.Command("go", "mod", "download", "-json", "k8s.io/kubernetes@"+KubeVersion)
	cmd.Dir = os.TempDir() // outside any module: no go.mod is read or changed
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GO111MODULE=on")
	if offline {
		cmd.Env = append(cmd.Env, "GOPROXY=off")
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("go mod download k8s.io/kubernetes@%s: %w: %s", KubeVersion, err, stderr.String())
	}
	var m struct{ Dir, Error string }
	if err := json.Unmarshal(out, &m); err != nil {
		return "", fmt.Errorf("go mod download: %w", err)
	}
	if m.Error != "" || m.Dir == "" {
		return "", fmt.Errorf("go mod download k8s.io/kubernetes@%s: %s", KubeVersion, m.Error)
	}
	return filepath.Join(m.Dir, "api", "openapi-spec", "swagger.json"), nil
}

// FileName is the schema file name kubeconform looks for with the template
// {{.ResourceKind}}{{.KindSuffix}}.json: "deployment-apps-v1.json",
// "pod-v1.json", "clusterrole-rbac-v1.json".
func FileName(group, version, kind string) string {
	name := strings.ToLower(kind)
	if group != "" {
		name += "-" + strings.ToLower(strings.Split(group, ".")[0])
	}
	return name + "-" + strings.ToLower(version) + ".json"
}

type gvk struct{ Group, Version, Kind string }

func parseGVK(s string) (gvk, error) {
	parts := strings.Split(strings.TrimSpace(s), "/")
	switch len(parts) {
	case 2:
		return gvk{"", parts[0], parts[1]}, nil
	case 3:
		return gvk{parts[0], parts[1], parts[2]}, nil
	}
	return gvk{}, fmt.Errorf("kind %q: want group/version/Kind or version/Kind", s)
}

// Generate returns the schema files (name → JSON) for kinds from the
// swagger document doc.
func Generate(doc []byte, kinds []string) (map[string][]byte, error) {
	var spec struct {
		Definitions map[string]map[string]any `json:"definitions"`
	}
	if err := json.Unmarshal(doc, &spec); err != nil {
		return nil, fmt.Errorf("swagger: %w", err)
	}
	byGVK := map[gvk]string{}
	for name, def := range spec.Definitions {
		list, _ := def["x-kubernetes-group-version-kind"].([]any)
		for _, x := range list {
			m, _ := x.(map[string]any)
			g, _ := m["group"].(string)
			v, _ := m["version"].(string)
			k, _ := m["kind"].(string)
			byGVK[gvk{g, v, k}] = name
		}
	}
	files := map[string][]byte{}
	for _, s := range kinds {
		want, err := parseGVK(s)
		if err != nil {
			return nil, err
		}
		def, ok := byGVK[want]
		if !ok {
			return nil, fmt.Errorf("kind %q: not in the swagger document", s)
		}
		r := resolver{defs: spec.Definitions, stack: map[string]bool{}}
		schema, err := r.resolve(map[string]any{"$ref": "#/definitions/" + def})
		if err != nil {
			return nil, fmt.Errorf("kind %q: %w", s, err)
		}
		root := schema.(map[string]any)
		props, _ := root["properties"].(map[string]any)
		if props == nil {
			return nil, fmt.Errorf("kind %q: definition %s has no properties", s, def)
		}
		apiVersion := want.Version
		if want.Group != "" {
			apiVersion = want.Group + "/" + want.Version
		}
		props["apiVersion"] = map[string]any{"type": "string", "enum": []any{apiVersion}}
		props["kind"] = map[string]any{"type": "string", "enum": []any{want.Kind}}
		root["required"] = mergeRequired(root["required"], "apiVersion", "kind")
		finish(root, true)
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false) // compact: the eight pod templates make them large
		if err := enc.Encode(root); err != nil {
			return nil, err
		}
		files[FileName(want.Group, want.Version, want.Kind)] = b.Bytes()
	}
	return files, nil
}

func mergeRequired(have any, names ...string) []any {
	var out []any
	list, _ := have.([]any)
	out = append(out, list...)
	for _, n := range names {
		if !slices.Contains(out, any(n)) {
			out = append(out, n)
		}
	}
	return out
}

// resolver inlines $refs, dropping descriptions and extensions, and
// replaces the two special string types.
type resolver struct {
	defs  map[string]map[string]any
	stack map[string]bool
}

func (r *resolver) resolve(v any) (any, error) {
	switch x := v.(type) {
	case map[string]any:
		if ref, ok := x["$ref"].(string); ok {
			name, ok := strings.CutPrefix(ref, "#/definitions/")
			if !ok {
				return nil, fmt.Errorf("unsupported $ref %q", ref)
			}
			switch name {
			case "io.k8s.apimachinery.pkg.util.intstr.IntOrString":
				return map[string]any{"oneOf": []any{map[string]any{"type": "string"}, map[string]any{"type": "integer"}}}, nil
			case "io.k8s.apimachinery.pkg.api.resource.Quantity":
				// kubectl and every tool accept numbers (cpu: 1).
				return map[string]any{"oneOf": []any{map[string]any{"type": "string"}, map[string]any{"type": "number"}}}, nil
			}
			if r.stack[name] {
				return nil, fmt.Errorf("recursive definition %s", name)
			}
			def, ok := r.defs[name]
			if !ok {
				return nil, fmt.Errorf("unknown definition %s", name)
			}
			r.stack[name] = true
			defer delete(r.stack, name)
			return r.resolve(def)
		}
		out := map[string]any{}
		for k, e := range x {
			if k == "description" || strings.HasPrefix(k, "x-kubernetes-") {
				continue
			}
			if k == "format" && e == "int-or-string" {
				return map[string]any{"oneOf": []any{map[string]any{"type": "string"}, map[string]any{"type": "integer"}}}, nil
			}
			if k == "properties" {
				// Property names are data, not keywords: keep all of them.
				props := map[string]any{}
				for pn, pv := range e.(map[string]any) {
					rv, err := r.resolve(pv)
					if err != nil {
						return nil, err
					}
					props[pn] = rv
				}
				out[k] = props
				continue
			}
			rv, err := r.resolve(e)
			if err != nil {
				return nil, err
			}
			out[k] = rv
		}
		return out, nil
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			rv, err := r.resolve(e)
			if err != nil {
				return nil, err
			}
			out[i] = rv
		}
		return out, nil
	}
	return v, nil
}

// finish makes s strict (no unknown properties) and lets optional
// properties be null, recursively. s was produced by resolve, so every
// map in it is its own copy.
func finish(s map[string]any, root bool) {
	if props, ok := s["properties"].(map[string]any); ok {
		if _, set := s["additionalProperties"]; !set {
			s["additionalProperties"] = false
		}
		required := map[string]bool{}
		if list, ok := s["required"].([]any); ok {
			for _, n := range list {
				if name, ok := n.(string); ok {
					required[name] = true
				}
			}
		}
		for name, p := range props {
			pm, ok := p.(map[string]any)
			if !ok {
				continue
			}
			finish(pm, false)
			if !required[name] && !(root && (name == "apiVersion" || name == "kind")) {
				nullable(pm)
			}
		}
	}
	if items, ok := s["items"].(map[string]any); ok {
		finish(items, false)
	}
	if ap, ok := s["additionalProperties"].(map[string]any); ok {
		finish(ap, false)
	}
	if list, ok := s["oneOf"].([]any); ok {
		for _, e := range list {
			if m, ok := e.(map[string]any); ok {
				finish(m, false)
			}
		}
	}
}

// nullable lets s also be null.
func nullable(s map[string]any) {
	if enum, ok := s["enum"].([]any); ok && !slices.Contains(enum, nil) {
		s["enum"] = append(enum, nil)
	}
	if t, ok := s["type"].(string); ok {
		s["type"] = []any{t, "null"}
		return
	}
	if list, ok := s["oneOf"].([]any); ok {
		s["oneOf"] = append(list, map[string]any{"type": "null"})
	}
}

func sortedKeys(m map[string][]byte) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
