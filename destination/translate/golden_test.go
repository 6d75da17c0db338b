package translate_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/meshlite/meshlite/destination/config"
	"github.com/meshlite/meshlite/destination/translate"
	destinationv1 "github.com/meshlite/meshlite/internal/api/destination/v1"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// workload selects an inbound policy.
type workload struct {
	ns     string
	labels map[string]string
}

// translated is what a set of files translates into.
type translated struct {
	table    *translate.Table
	problems translate.Problems
	services map[string]*config.Service
}

// load parses files with package config, as the destination service
// does, and builds their table; a file with errors fails the test.
func load(t *testing.T, files ...string) translated {
	t.Helper()
	set := &translate.Set{}
	out := translated{services: map[string]*config.Service{}}
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		f, probs := config.ParseFile(filepath.Base(name), data, translate.Options{})
		if f == nil {
			t.Fatalf("%s:\n%v", name, probs)
		}
		set.Add(f.Traffic.Resources()...)
		for _, s := range f.Services {
			out.services[s.Key()] = s
		}
	}
	known := func(k string) bool { return out.services[k] != nil }
	out.table, out.problems = translate.Build(set, translate.Options{}, known)
	return out
}

// policy is the policy the destination service sends for service key.
func (tr translated) policy(key string) *destinationv1.Policy {
	var base *destinationv1.Policy
	if s := tr.services[key]; s != nil {
		base = s.Policy
	}
	return tr.table.Policy(key, base)
}

func TestGolden(t *testing.T) {
	ex := func(names ...string) []string {
		for i, n := range names {
			names[i] = filepath.Join("..", "..", "examples", n)
		}
		return names
	}
	for _, tc := range []struct {
		name    string
		files   []string
		inbound []workload
	}{
		{name: "seed", files: ex("seed-routing.yaml", "seed-services.yaml")},
		{name: "bookinfo", files: ex("bookinfo-services.yaml", "bookinfo-destination-rules.yaml", "bookinfo-reviews.yaml",
			"bookinfo-ratings.yaml", "bookinfo-details.yaml")},
		{name: "tcp-echo", files: ex("tcp-echo.yaml")},
		{name: "gamma", files: ex("gamma-httproute.yaml")},
		{name: "security", files: ex("peer-authentication.yaml", "authorization-policy.yaml"), inbound: []workload{
			{"default", map[string]string{"app": "ratings", "version": "v1"}},
			{"default", map[string]string{"app": "productpage"}},
			{"shop", map[string]string{"app": "web"}},
			{"meshlite", nil},
		}},
		{name: "istio-edge", files: []string{"testdata/istio-edge.yaml"}},
		{name: "gamma-edge", files: []string{"testdata/gamma-edge.yaml"}},
		{name: "authz-edge", files: []string{"testdata/authz-edge.yaml"}, inbound: []workload{
			{"shop", map[string]string{"app": "web"}},
			{"shop", map[string]string{"app": "cart"}},
			{"other", map[string]string{"app": "web"}},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := load(t, tc.files...)
			var b strings.Builder
			b.WriteString("problems:\n")
			for _, p := range tr.problems {
				fmt.Fprintf(&b, "  %v\n", p)
			}
			for _, k := range tr.table.Services() {
				fmt.Fprintf(&b, "\npolicy %s:\n%s", k, jsonOf(t, tr.policy(k)))
			}
			for _, w := range tc.inbound {
				keys := slices.Sorted(maps.Keys(w.labels))
				for i, k := range keys {
					keys[i] = k + "=" + w.labels[k]
				}
				fmt.Fprintf(&b, "\ninbound %s {%s}:\n%s", w.ns, strings.Join(keys, ","), jsonOf(t, tr.table.Inbound(w.ns, w.labels)))
			}
			golden(t, filepath.Join("testdata", tc.name+".golden"), b.String())
		})
	}
}

// jsonOf is m as indented JSON, stable across runs (protojson's own
// output varies its spacing on purpose).
func jsonOf(t *testing.T, m proto.Message) string {
	t.Helper()
	raw, err := protojson.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	var compact, out bytes.Buffer
	if err := json.Compact(&compact, raw); err != nil {
		t.Fatal(err)
	}
	if err := json.Indent(&out, compact.Bytes(), "", "  "); err != nil {
		t.Fatal(err)
	}
	return out.String() + "\n"
}

func golden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs (run go test -update to accept):\n--- got\n%s", path, got)
	}
}
