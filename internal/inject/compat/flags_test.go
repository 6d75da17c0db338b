package compat_test

import (
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/meshlite/meshlite/init/redirect"
	"github.com/meshlite/meshlite/internal/flagenv"
	"github.com/meshlite/meshlite/internal/inject"
	"github.com/meshlite/meshlite/internal/inject/injecttest"
	"github.com/meshlite/meshlite/proxy/app"
)

// notProxyFlags are environment variables inject sets that are not flags
// of meshlite-proxy (yet: the shutdown endpoint is for the proxy to add).
var notProxyFlags = map[string]bool{
	"MESHLITE_PROXY_SHUTDOWN_ENDPOINT": true,
}

// variants are option sets to inject the corpus with.
var variants = []inject.Options{
	{Version: "v0.0.0-test"},
	{Version: "v0.0.0-test", ClassicSidecar: true, TrustAnchorsPEM: anchors(), TrustDomain: "example.org", ControlPlaneNamespace: "mesh-system"},
}

func anchors() []byte {
	b, err := os.ReadFile(filepath.Join("..", "testdata", "anchor.crt"))
	if err != nil {
		panic(err)
	}
	return b
}

// corpus returns internal/inject/testdata/corpus (name → content).
func corpus(t *testing.T) map[string][]byte {
	t.Helper()
	dir := filepath.Join("..", "testdata", "corpus")
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = b
	}
	return out
}

// TestInjectedContainersParse hands the arguments of every injected
// meshlite-init to meshlite-init's own flag parsing and validation, and
// the environment of every injected meshlite-proxy to meshlite-proxy's
// (Downward API values filled in as the kubelet would): a flag renamed on
// either side fails here, not in a cluster.
func TestInjectedContainersParse(t *testing.T) {
	fieldValues := map[string]string{
		"metadata.namespace": "shop", "spec.serviceAccountName": "web",
		"metadata.name": "web-0", "status.podIP": "10.1.2.3",
	}
	checked := 0
	for name, input := range corpus(t) {
		for _, v := range variants {
			out, _, err := inject.Transform(input, v)
			if err != nil {
				t.Fatal(err)
			}
			objs, err := injecttest.Objects(out)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range containers(objs) {
				if _, ok := c["securityContext"]; !ok {
					continue // skips.yaml's meshlite-proxy made by hand
				}
				switch c["name"] {
				case inject.InitContainerName:
					checkInitArgs(t, name, c)
					checked++
				case inject.ProxyContainerName:
					checkProxyEnv(t, name, c, fieldValues)
					checked++
				}
			}
		}
	}
	if checked < 40 {
		t.Errorf("only %d containers checked", checked)
	}
}

func checkInitArgs(t *testing.T, file string, c map[string]any) {
	t.Helper()
	var args []string
	for _, a := range c["args"].([]any) {
		args = append(args, a.(string))
	}
	o := redirect.DefaultOptions()
	fs := flag.NewFlagSet("meshlite-init", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	o.RegisterFlags(fs)
	if err := fs.Parse(args); err != nil {
		t.Errorf("%s: meshlite-init %v: %v", file, args, err)
		return
	}
	if err := o.Validate(); err != nil {
		t.Errorf("%s: meshlite-init %v: %v", file, args, err)
	}
}

func checkProxyEnv(t *testing.T, file string, c map[string]any, fieldValues map[string]string) {
	t.Helper()
	env := map[string]string{}
	for _, e := range c["env"].([]any) {
		m := e.(map[string]any)
		name := m["name"].(string)
		if v, ok := m["value"].(string); ok {
			env[name] = v
			continue
		}
		path := m["valueFrom"].(map[string]any)["fieldRef"].(map[string]any)["fieldPath"].(string)
		env[name] = fieldValues[path]
	}
	cfg := app.Default()
	fs := flag.NewFlagSet("meshlite-proxy", flag.ContinueOnError)
	cfg.RegisterFlags(fs)
	for name := range env {
		if !strings.HasPrefix(name, app.EnvPrefix) || notProxyFlags[name] {
			continue
		}
		flagName := strings.ToLower(strings.ReplaceAll(strings.TrimPrefix(name, app.EnvPrefix), "_", "-"))
		if fs.Lookup(flagName) == nil {
			t.Errorf("%s: %s is not a meshlite-proxy flag", file, name)
		}
	}
	if err := fs.Parse(nil); err != nil {
		t.Fatal(err)
	}
	if err := flagenv.Apply(fs, app.EnvPrefix, func(k string) string { return env[k] }); err != nil {
		t.Errorf("%s: %v", file, err)
		return
	}
	if err := cfg.Validate(); err != nil {
		t.Errorf("%s: meshlite-proxy refuses the injected environment: %v", file, err)
	}
}

// containers returns every container and init container of every pod
// template in objs.
func containers(objs []any) []map[string]any {
	var out []map[string]any
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			for _, key := range []string{"containers", "initContainers"} {
				if list, ok := x[key].([]any); ok {
					for _, c := range list {
						if m, ok := c.(map[string]any); ok {
							out = append(out, m)
						}
					}
				}
			}
			for k, e := range x {
				if k != "containers" && k != "initContainers" {
					walk(e)
				}
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	for _, o := range objs {
		walk(o)
	}
	return out
}
