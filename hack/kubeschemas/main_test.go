package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"
)

func TestFileName(t *testing.T) {
	for _, c := range []struct{ group, version, kind, want string }{
		{"", "v1", "Pod", "pod-v1.json"},
		{"apps", "v1", "Deployment", "deployment-apps-v1.json"},
		{"rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterrole-rbac-v1.json"},
		{"autoscaling", "v2", "HorizontalPodAutoscaler", "horizontalpodautoscaler-autoscaling-v2.json"},
	} {
		if got := FileName(c.group, c.version, c.kind); got != c.want {
			t.Errorf("FileName(%q, %q, %q) = %q, want %q", c.group, c.version, c.kind, got, c.want)
		}
	}
}

// TestCommittedSchemasAreCurrent regenerates the schemas committed under
// internal/inject/testdata/schemas and compares: run `make kubeschemas`
// when it fails. It needs the k8s.io/kubernetes module in the module cache
// (hack/kube/build.sh downloads it) and skips without it, except in CI.
func TestCommittedSchemasAreCurrent(t *testing.T) {
	swagger, err := FindSwagger(true)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%v (run make kube-tools first)", err)
		}
		t.Skipf("k8s.io/kubernetes@%s is not in the module cache: %v", KubeVersion, err)
	}
	doc, err := os.ReadFile(swagger)
	if err != nil {
		t.Fatal(err)
	}
	files, err := Generate(doc, DefaultKinds)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join("..", "..", "internal", "inject", "testdata", "schemas")
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != len(files) {
		t.Errorf("%s has %d files, the generator writes %d: run make kubeschemas", dir, len(entries), len(files))
	}
	for name, want := range files {
		got, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Errorf("%v: run make kubeschemas", err)
			continue
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s is stale: run make kubeschemas", name)
		}
	}
}

func TestRunErrors(t *testing.T) {
	if err := run([]string{"-kinds", "v1/Pod"}, io.Discard); err == nil {
		t.Error("run without -out succeeded")
	}
	doc := []byte(`{"definitions":{"a.Pod":{"type":"object","properties":{"spec":{"$ref":"#/definitions/a.Pod"}},
	  "x-kubernetes-group-version-kind":[{"group":"","version":"v1","kind":"Pod"}]}}}`)
	if _, err := Generate(doc, []string{"v1/Pod"}); err == nil {
		t.Error("a recursive definition was accepted")
	}
	if _, err := Generate(doc, []string{"v1/Nope"}); err == nil {
		t.Error("an unknown kind was accepted")
	}
	if _, err := Generate(doc, []string{"Pod"}); err == nil {
		t.Error("a kind without version was accepted")
	}
}
