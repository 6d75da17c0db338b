package measure

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"syscall"
	"testing"
)

func TestParseStat(t *testing.T) {
	cases := []struct {
		name string
		in   string
		want Stat
		err  bool
	}{
		{"plain", "1234 (haproxy) S 1 1234 1234 0 -1 4194560 1000 0 0 0 250 75 0 0 20 0 3 0 100 0 0",
			Stat{PGRP: 1234, UTime: 250, STime: 75}, false},
		{"spaces and parens in comm", "77 (my (odd) proc) R 1 70 70 0 -1 0 0 0 0 0 1 2 0 0 20 0 1 0 5 0 0",
			Stat{PGRP: 70, UTime: 1, STime: 2}, false},
		{"truncated", "1 (x) S 1 1", Stat{}, true},
		{"no comm", "garbage", Stat{}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := ParseStat([]byte(c.in))
			if (err != nil) != c.err || got != c.want {
				t.Errorf("ParseStat = %+v, %v; want %+v, error %v", got, err, c.want, c.err)
			}
		})
	}
}

func TestParseStatus(t *testing.T) {
	in := "Name:\tmeshlite-proxy\nVmPeak:\t 1243644 kB\nVmHWM:\t   14336 kB\nVmRSS:\t   12288 kB\nRssAnon:\t    2040 kB\nRssFile:\t   10248 kB\nThreads:\t7\n"
	got, err := ParseStatus([]byte(in))
	if err != nil || got != (Status{VmRSS: 12288 << 10, VmHWM: 14336 << 10, RssAnon: 2040 << 10}) {
		t.Errorf("ParseStatus = %+v, %v", got, err)
	}
	if _, err := ParseStatus([]byte("Name:\tkthreadd\nThreads:\t1\n")); err == nil {
		t.Error("ParseStatus without VmRSS: want an error")
	}
	if _, err := ParseStatus([]byte("VmRSS:\t12 MB\nVmHWM:\t1 kB\n")); err == nil {
		t.Error("ParseStatus with a unit other than kB: want an error")
	}
}

func TestSumMetric(t *testing.T) {
	text := `# HELP go_gc_duration_seconds A summary of the wall-time pause (stop-the-world) duration in garbage collection cycles.
# TYPE go_gc_duration_seconds summary
go_gc_duration_seconds{quantile="0"} 2.1e-05
go_gc_duration_seconds_sum 0.0031
go_gc_duration_seconds_count 42
request_total{direction="inbound",authority="a"} 10
request_total{direction="outbound",authority="b{c}"} 5.5
request_total_other 1000
protocol_detect_total{direction="outbound",result="opaque"} 4
protocol_detect_total{direction="outbound",result="timeout"} 8
protocol_detect_total{direction="inbound",result="timeout"} 1
`
	cases := []struct {
		name   string
		labels []string
		want   float64
		ok     bool
	}{
		{"go_gc_duration_seconds_count", nil, 42, true},
		{"request_total", nil, 15.5, true},
		{"missing_total", nil, 0, false},
		{DetectMetric, []string{DetectTimeout}, 9, true},
		{DetectMetric, []string{DetectTimeout, `direction="outbound"`}, 8, true},
		{DetectMetric, []string{`result="server_first"`}, 0, false},
	}
	for _, c := range cases {
		if got, ok := SumMetric(text, c.name, c.labels...); got != c.want || ok != c.ok {
			t.Errorf("SumMetric(%s, %q) = %v, %v; want %v, %v", c.name, c.labels, got, ok, c.want, c.ok)
		}
	}
}

// TestMonitorSelf watches the test process's own group with a fake
// metrics endpoint.
func TestMonitorSelf(t *testing.T) {
	var gc, timeouts atomic.Int64
	gc.Store(10)
	timeouts.Store(1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintf(w, "go_gc_duration_seconds_count %d\n", gc.Load())
		fmt.Fprintf(w, "protocol_detect_total{direction=\"outbound\",result=\"timeout\"} %d\n", timeouts.Load())
	}))
	defer srv.Close()
	m, err := Start(context.Background(), Target{PGID: syscall.Getpgrp(), MetricsURL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 8<<20)
	for i := range buf {
		buf[i] = byte(i)
	}
	gc.Add(3)
	timeouts.Add(2)
	u := m.Stop(context.Background())
	if u.Err != "" {
		t.Fatal(u.Err)
	}
	if u.RSSSteady <= 0 || u.RSSPeak < u.RSSSteady/2 || u.AnonSteady <= 0 || u.AnonSteady > u.RSSSteady || u.Samples < 2 || u.CPUSeconds < 0 {
		t.Errorf("implausible usage %+v", u)
	}
	if u.GCCycles != 3 || u.DetectTimeouts != 2 {
		t.Errorf("GC cycles %v, detect timeouts %v; want 3 and 2", u.GCCycles, u.DetectTimeouts)
	}
	_ = buf[len(buf)-1]
}
