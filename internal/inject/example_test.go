package inject_test

import (
	"fmt"

	"github.com/meshlite/meshlite/internal/inject"
)

func ExampleTransform() {
	manifests := []byte(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
spec:
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: nginx
---
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: shop
spec:
  ports: [{port: 80}]
`)
	out, report, err := inject.Transform(manifests, inject.Options{Version: "v0.1.0"})
	if err != nil {
		panic(err)
	}
	for _, r := range report {
		fmt.Println(r)
	}
	back, _, err := inject.Uninject(out)
	if err != nil {
		panic(err)
	}
	fmt.Println(len(out) > len(manifests), len(back) < len(out))
	// Output:
	// Deployment shop/web: injected
	// Service shop/web: skipped: unsupported kind
	// true true
}
