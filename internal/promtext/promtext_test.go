package promtext

import "testing"

const sample = `# HELP request_total Total count of HTTP requests.
# TYPE request_total counter
request_total{authority="a",client_id="",direction="inbound",server_id="",tls="false"} 2
request_total{authority="b",client_id="spiffe://x/ns/a/sa/b",direction="inbound",server_id="spiffe://x/ns/c/sa/d",tls="true"} 3
request_total{authority="a",client_id="",direction="outbound",server_id="",tls="false"} 5
# HELP response_latency_ms latency
# TYPE response_latency_ms histogram
response_latency_ms_bucket{direction="inbound",le="1"} 1
response_latency_ms_bucket{direction="inbound",le="+Inf"} 4
response_latency_ms_sum{direction="inbound"} 12
response_latency_ms_count{direction="inbound"} 4
`

func TestSum(t *testing.T) {
	f, err := ParseString(sample)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"request_total", nil, 10},
		{"request_total", map[string]string{"direction": "inbound"}, 5},
		{"request_total", map[string]string{"direction": "inbound", "tls": "true"}, 3},
		{"request_total", map[string]string{"client_id": ""}, 7},
		{"request_total", map[string]string{"authority": "zzz"}, 0},
		{"response_latency_ms", map[string]string{"direction": "inbound"}, 4},
		{"missing_total", nil, 0},
	} {
		if got := f.Sum(tc.name, tc.labels); got != tc.want {
			t.Errorf("Sum(%s, %v) = %v, want %v", tc.name, tc.labels, got, tc.want)
		}
	}
	if _, err := ParseString("not a metric {"); err == nil {
		t.Error("garbage parsed")
	}
}
