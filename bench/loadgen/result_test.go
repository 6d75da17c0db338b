package loadgen

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// sampleResult builds a Result from a known histogram, without a run.
func sampleResult() *Result {
	rs := newRecorders(2)
	for i := range 1000 {
		rs.worker(i%2).record(time.Duration(i+1)*time.Microsecond, time.Duration(i+1)*time.Microsecond, 0, time.Time{}, nil)
	}
	rs.worker(0).record(0, 0, 0, time.Time{}, &StatusError{Code: 502})
	res := rs.result(Options{Rate: 1000, Duration: time.Second, Connections: 2, MaxInFlight: 2}, time.Time{})
	res.Target = "http1 http://x/"
	return res
}

func TestResultSummary(t *testing.T) {
	res := sampleResult()
	if res.Requests != 1001 || res.Errors != 1 || res.ErrorKinds["status 502"] != 1 {
		t.Fatalf("counts %d %d %v", res.Requests, res.Errors, res.ErrorKinds)
	}
	for _, c := range []struct {
		got, want time.Duration
	}{{res.Latency.P50, 500 * time.Microsecond}, {res.Latency.P99, 990 * time.Microsecond},
		{res.Latency.Max, time.Millisecond}, {res.Latency.Min, time.Microsecond}} {
		if d := c.got - c.want; d < -c.want/100 || d > c.want/100 {
			t.Errorf("got %v, want %v", c.got, c.want)
		}
	}
	if got := res.Percentiles([]float64{0, 100}); got[0] != time.Microsecond || got[1] != time.Millisecond {
		t.Errorf("Percentiles = %v", got)
	}
}

func TestResultJSONRoundTrip(t *testing.T) {
	res := sampleResult()
	b, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{`"latency_us":{"min":1,`, `"error_kinds":{"status 502":1}`, `"p99.9":`, `"percentiles_us":[{"p":0,"us":1}`} {
		if !bytes.Contains(b, []byte(key)) {
			t.Errorf("JSON lacks %s:\n%s", key, b)
		}
	}
	var back Result
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back.Requests != res.Requests || back.Latency != res.Latency.rounded() || back.Duration != res.Duration ||
		back.Target != res.Target || back.ErrorKinds["status 502"] != 1 {
		t.Errorf("round trip:\n got %+v\nwant %+v", back, res)
	}
	if back.Histogram() != nil {
		t.Error("decoded result has a histogram")
	}
	if got, want := back.Percentiles([]float64{99.9, 99.95}), res.Percentiles([]float64{99.9, 99.95}); got[0] != want[0].Round(100) {
		t.Errorf("decoded Percentiles = %v, want %v", got, want)
	}
	again, _ := json.Marshal(&back)
	if !bytes.Equal(again, b) {
		t.Errorf("re-encoding differs:\n%s\n%s", again, b)
	}
}

// rounded is s at JSON precision (0.1µs).
func (s Summary) rounded() Summary { return s.wire().summary() }

func TestWriteTable(t *testing.T) {
	var b strings.Builder
	if err := sampleResult().WriteTable(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"target:   http1 http://x/", "open loop 1000 req/s", "errors:   status 502=1",
		"p99.9", "latency", "send lag", "1.000ms"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
}

func TestFormatDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		1234 * time.Nanosecond:   "1.2µs",
		12345 * time.Microsecond: "12.345ms",
		1500 * time.Millisecond:  "1.5000s",
	} {
		if got := FormatDuration(d); got != want {
			t.Errorf("FormatDuration(%v) = %q, want %q", d, got, want)
		}
	}
}
