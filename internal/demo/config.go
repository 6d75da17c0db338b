package demo

import (
	"fmt"

	"github.com/meshlite/meshlite/examples"
)

// Config returns the destination service's configuration for the demo, by
// file name: the services, and the seed's routing as written.
func Config() map[string]string {
	svc := func(name, port string, ap string) string {
		a := Services[name]
		return fmt.Sprintf(`apiVersion: v1
kind: Service
metadata:
  name: %s
  namespace: default
spec:
  clusterIP: %s
  selector:
    app: %s
  ports:
  - name: %s
    port: %d
    targetPort: %d
%s`, name, a.Addr(), name, port, a.Port(), a.Port(), ap)
	}
	return map[string]string{
		"user-service.yaml": svc("user-service", "grpc", "    appProtocol: grpc\n"),
		"web.yaml":          svc("web", "http", ""),
		"cache.yaml":        svc("cache", "tcp", ""),
		"seed-routing.yaml": seedRouting(),
	}
}

// seedRouting is examples/seed-routing.yaml, the routing of the document
// the project started from, applied unchanged.
func seedRouting() string {
	b, err := examples.FS.ReadFile("seed-routing.yaml")
	if err != nil {
		panic("demo: the seed routing is not embedded: " + err.Error())
	}
	return string(b)
}
