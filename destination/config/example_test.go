package config_test

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/meshlite/meshlite/destination/config"
)

// Validate reports every problem of a configuration directory with its
// file, line and field, as `meshctl validate` prints them.
func ExampleValidate() {
	dir, err := os.MkdirTemp("", "example")
	if err != nil {
		return
	}
	defer os.RemoveAll(dir)
	web := `apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  clusterIP: 10.96.0.10
  selector: {}
  ports:
  - port: 80
    targetPort: 70000
`
	if err := os.WriteFile(filepath.Join(dir, "web.yaml"), []byte(web), 0o644); err != nil {
		return
	}
	problems, err := config.Validate(config.Options{}, dir)
	if err != nil {
		return
	}
	for _, p := range problems {
		fmt.Printf("%s:%d: %s: %s\n", filepath.Base(p.File), p.Line, p.Field, p.Msg)
	}
	// Output:
	// web.yaml:6: spec.selector: required: an empty selector matches no workload, ever (the embedded registry knows workloads only by their labels)
	// web.yaml:9: spec.ports[0].targetPort: 70000 is out of range (1-65535)
}
