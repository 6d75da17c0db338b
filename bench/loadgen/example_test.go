package loadgen_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/meshlite/meshlite/bench/loadgen"
)

// Run an HTTP/1.1 target at 100 req/s for 200ms over 2 connections.
func ExampleRun() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "ok")
	}))
	defer srv.Close()
	ctx := context.Background()

	target, err := loadgen.NewHTTP1(ctx, loadgen.HTTP1Config{URL: srv.URL, Conns: 2})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer target.Close()
	res, err := loadgen.Run(ctx, target, loadgen.Options{Rate: 100, Duration: 200 * time.Millisecond})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("requests:", res.Requests, "errors:", res.Errors)
	fmt.Println("p99 below 100ms:", res.Latency.P99 < 100*time.Millisecond)
	// Output:
	// requests: 20 errors: 0
	// p99 below 100ms: true
}

func ExampleHistogram() {
	var h loadgen.Histogram
	for i := 1; i <= 1000; i++ {
		h.Record(time.Duration(i) * time.Microsecond)
	}
	fmt.Println(h.Count(), h.Percentile(50), h.Percentile(99.9), h.Max())
	// Output: 1000 500.736µs 997.376µs 1ms
}
