package apps

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"sync/atomic"
	"time"
)

// Load calls web at a steady rate with a mix of requests: most for a user
// (served by v1), some with "x-version: v2" (routed to v2), some for the
// cache, and some that fail on purpose.
type Load struct {
	Base  string  // e.g. "http://web:8080"
	Rate  float64 // requests per second
	Sent  atomic.Int64
	Fails atomic.Int64
}

// Run sends until ctx ends.
func (l *Load) Run(ctx context.Context) error {
	hc := &http.Client{Timeout: 5 * time.Second}
	tick := time.NewTicker(time.Duration(float64(time.Second) / l.Rate))
	defer tick.Stop()
	for n := 0; ; n++ {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		path, v2 := "/users/"+fmt.Sprint(1+rand.IntN(3)), false
		switch k := n % 20; {
		case k < 4:
			v2 = true
		case k == 4:
			path = "/cache/k" + fmt.Sprint(n%7)
		case k == 5:
			path = "/fail"
		}
		go l.one(ctx, hc, path, v2)
	}
}

func (l *Load) one(ctx context.Context, hc *http.Client, path string, v2 bool) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, l.Base+path, nil)
	if err != nil {
		return
	}
	if v2 {
		req.Header.Set("X-Version", "v2")
	}
	l.Sent.Add(1)
	resp, err := hc.Do(req)
	if err != nil {
		l.Fails.Add(1)
		return
	}
	io.Copy(io.Discard, resp.Body) //nolint:errcheck // drained for reuse
	resp.Body.Close()
	if resp.StatusCode >= 500 {
		l.Fails.Add(1)
	}
}
