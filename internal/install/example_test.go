package install_test

import (
	"bytes"
	"fmt"
	"time"

	"github.com/meshlite/meshlite/internal/install"
)

func ExampleRender() {
	now := time.Now()
	id, err := install.GenerateIdentity("cluster.local", now)
	if err != nil {
		panic(err)
	}
	manifests, report, err := install.Render(install.Options{Version: "v0.1.0", Identity: id, Now: now})
	if err != nil {
		panic(err)
	}
	for _, r := range report {
		fmt.Println(r)
	}
	fmt.Println(bytes.Count(manifests, []byte("\n---\n")), "objects")
	// Output:
	// Deployment meshlite/meshlite-identity: injected
	// Deployment meshlite/meshlite-destination: injected
	// 13 objects
}
