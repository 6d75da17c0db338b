package workload_test

import (
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/meshlite/meshlite/bench/topology"
	"github.com/meshlite/meshlite/bench/workload"
)

// The command line meshbench runs in the client pod for one latency point.
func ExampleLoadgenArgs() {
	w, _ := workload.Lookup(workload.H2C)
	p := workload.Point{Workload: workload.H2C, Rate: 1000, Conns: 4, Streams: 4}
	args := workload.LoadgenArgs(w, p, netip.MustParseAddr("10.201.0.3"), topology.DefaultPorts, 10*time.Second, 2*time.Second)
	fmt.Println("loadgen", strings.Join(args, " "))
	// Output: loadgen -proto h2c -url http://10.201.0.3:8082/ -rate 1000 -c 4 -duration 10s -warmup 2s -o json -streams 4
}
