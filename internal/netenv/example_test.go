package netenv_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/netip"
	"os"
	"time"

	"github.com/meshlite/meshlite/internal/netenv"
)

// Two pods, a service name, a server process as an unprivileged user, and
// a client dialling from the test process itself. Needs root, so it is
// compiled but not run.
func Example() {
	ctx := context.Background()
	env, err := netenv.New(ctx, netenv.Options{}) // 10.201.<slot>.0/24, fd6d:6c00:<slot>::/64
	if err != nil {
		log.Fatal(err)
	}
	defer env.Close()

	server, err := env.AddPod(ctx, "server", netenv.PodOptions{})
	if err != nil {
		log.Fatal(err)
	}
	client, err := env.AddPod(ctx, "client", netenv.PodOptions{})
	if err != nil {
		log.Fatal(err)
	}
	if err := env.SetHosts(map[string]netip.Addr{"web.default.svc.cluster.local": server.Addr}); err != nil {
		log.Fatal(err)
	}

	web, err := server.Start(ctx, netenv.ProcSpec{
		Name: "web", Path: "/usr/bin/python3", Args: []string{"-m", "http.server", "8080"},
		UID: 2102, GID: 2102, Dir: "/tmp", Output: os.Stderr,
	})
	if err != nil {
		log.Fatal(err)
	}
	defer web.Stop(time.Second)
	if err := client.WaitDial(ctx, "tcp", "web.default.svc.cluster.local:8080"); err != nil {
		log.Fatal(err)
	}

	conn, err := client.DialContext(ctx, "tcp", "web.default.svc.cluster.local:8080")
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "GET / HTTP/1.0\r\n\r\n")
	_, _ = io.Copy(os.Stdout, conn)

	out, err := client.Command(ctx, 0, "curl", "-s", "http://web.default.svc.cluster.local:8080/").Output()
	fmt.Println(len(out) > 0, err)
}
