package accesslog

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)

// line renders an access line logged at t0+sec.
func line(sec int, dir string, status int, trace string) string {
	s := fmt.Sprintf(`{"level":"info","log":"access","kind":"http","direction":%q,"status":%d`, dir, status)
	if trace != "" {
		s += fmt.Sprintf(`,"trace_id":%q,"span_id":"00f067aa0ba902b7"`, trace)
	}
	return s + fmt.Sprintf(`,"time":%q}`, t0.Add(time.Duration(sec)*time.Second).Format(time.RFC3339Nano))
}

const (
	traceA = "4bf92f3577b34da6a3ce929d0e0e4736"
	traceB = "0000000000000000a3ce929d0e0e4736"
)

func fill(r *Ring) []string {
	ls := []string{
		line(1, "outbound", 200, traceA),
		line(2, "inbound", 503, traceA),
		line(3, "inbound", 404, traceB),
		`{"level":"info","log":"access","kind":"tcp","direction":"inbound","time":"` + t0.Add(4*time.Second).Format(time.RFC3339Nano) + `"}`,
		line(5, "outbound", 502, ""),
	}
	for _, l := range ls {
		io.WriteString(r, l+"\n")
	}
	return ls
}

func TestHandlerFilters(t *testing.T) {
	r := NewRing(100)
	ls := fill(r)
	h := Handler(HandlerConfig{Ring: r, Workload: "web", Identity: "spiffe://td/ns/default/sa/web", Now: func() time.Time { return t0.Add(10 * time.Second) }})
	tests := []struct {
		query  string
		status int
		want   []int // indexes into ls
	}{
		{"", 200, []int{0, 1, 2, 3, 4}},
		{"trace=" + traceA, 200, []int{0, 1}},
		{"trace=" + strings.ToUpper(traceA), 200, []int{0, 1}},
		{"trace=a3ce929d0e0e4736", 200, []int{2}}, // a 64-bit B3 ID
		{"status=5xx", 200, []int{1, 4}},
		{"status=404,502", 200, []int{2, 4}},
		{"direction=inbound", 200, []int{1, 2, 3}},
		{"since=" + url.QueryEscape(t0.Add(3*time.Second).Format(time.RFC3339)), 200, []int{2, 3, 4}},
		{"since=6s", 200, []int{3, 4}}, // now is t0+10s
		{"limit=2", 200, []int{3, 4}},
		{"status=5xx&direction=outbound&limit=1", 200, []int{4}},
		{"trace=xyz", 400, nil},
		{"status=6xx", 400, nil},
		{"since=yesterday", 400, nil},
		{"direction=up", 400, nil},
		{"limit=-1", 400, nil},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/logs?"+tt.query, nil))
			if rec.Code != tt.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, tt.status, rec.Body)
			}
			if tt.status != 200 {
				return
			}
			var want strings.Builder
			for _, i := range tt.want {
				want.WriteString(ls[i] + "\n")
			}
			if got := rec.Body.String(); got != want.String() {
				t.Fatalf("got\n%s\nwant\n%s", got, want.String())
			}
			if rec.Header().Get(HeaderWorkload) != "web" || rec.Header().Get(HeaderIdentity) != "spiffe://td/ns/default/sa/web" ||
				rec.Header().Get("Content-Type") != "application/x-ndjson" {
				t.Fatalf("headers %v", rec.Header())
			}
		})
	}
}

// TestHandlerFollow: over a real connection, the backlog, then new
// matching lines as they are logged, then a note of dropped lines.
func TestHandlerFollow(t *testing.T) {
	r := NewRing(100)
	fill(r)
	srv := httptest.NewServer(Handler(HandlerConfig{Ring: r, Queue: 2}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/logs?follow=1&trace="+traceA, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	next := func() string {
		t.Helper()
		if !sc.Scan() {
			t.Fatalf("stream ended: %v", sc.Err())
		}
		return sc.Text()
	}
	if got := next(); got != line(1, "outbound", 200, traceA) {
		t.Fatalf("first backlog line %s", got)
	}
	next()
	if got := next(); !strings.HasPrefix(got, `{"log":"live","time":`) {
		t.Fatalf("after the backlog %s, want the live marker", got)
	}
	io.WriteString(r, line(20, "inbound", 200, traceB)+"\n") // filtered out
	io.WriteString(r, line(21, "inbound", 200, traceA)+"\n")
	if got := next(); got != line(21, "inbound", 200, traceA) {
		t.Fatalf("live line %s", got)
	}
	// Overflow the follower's queue of 2 faster than it can be served.
	for i := range 2000 {
		io.WriteString(r, line(30+i, "inbound", 200, traceA)+"\n")
	}
	found := false
	for !found {
		found = strings.Contains(next(), `"log":"dropped"`)
	}
}
