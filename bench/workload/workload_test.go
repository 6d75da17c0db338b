package workload

import (
	"math"
	"net/netip"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/meshlite/meshlite/bench/topology"
)

func read(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseWrk(t *testing.T) {
	got, err := ParseWrk(string(read(t, "wrk.txt")))
	want := Throughput{Tool: "wrk", Rate: 12651.04, Requests: 101213, Errors: 7}
	if err != nil || got != want {
		t.Errorf("ParseWrk = %+v, %v; want %+v", got, err, want)
	}
	if _, err := ParseWrk("unable to connect to 10.0.0.1:80 Connection refused"); err == nil {
		t.Error("ParseWrk of a failure: want an error")
	}
}

func TestParseH2load(t *testing.T) {
	out := string(read(t, "h2load.txt"))
	got, err := ParseH2load(out)
	want := Throughput{Tool: "h2load", Rate: 14800.25, Requests: 118400, Errors: 2}
	if err != nil || got != want {
		t.Errorf("ParseH2load = %+v, %v; want %+v", got, err, want)
	}
	if _, err := ParseH2load(strings.Replace(out, "Application protocol: h2c", "Application protocol: http/1.1", 1)); err == nil {
		t.Error("ParseH2load of an HTTP/1.1 run: want an error")
	}
}

func TestParseIperf(t *testing.T) {
	got, err := ParseIperf(read(t, "iperf3.json"))
	want := Throughput{Tool: "iperf3", Rate: 8.9e9, Requests: 8.9e9, Errors: 12}
	if err != nil || got != want {
		t.Errorf("ParseIperf = %+v, %v; want %+v", got, err, want)
	}
	if _, err := ParseIperf([]byte(`{"error": "unable to connect to server: Connection refused"}`)); err == nil {
		t.Error("ParseIperf of an error: want an error")
	}
}

func TestParseFortio(t *testing.T) {
	got, err := ParseFortio(read(t, "fortio.json"))
	if err != nil {
		t.Fatal(err)
	}
	near := func(a, b float64) bool { return math.Abs(a-b) < 1e-6 }
	if got.Count != 10000 || got.Errors != 5 || !near(got.ActualQPS, 999.7) ||
		!near(got.P50, 380) || !near(got.P90, 520) || !near(got.P99, 1100) || !near(got.P999, 4200) || !near(got.Max, 12100) {
		t.Errorf("ParseFortio = %+v", got)
	}
}

func TestLoadgenArgs(t *testing.T) {
	srv := netip.MustParseAddr("10.201.0.3")
	ports := topology.DefaultPorts
	cases := []struct {
		w    string
		p    Point
		want []string
	}{
		{HTTP1, Point{Rate: 1000, Conns: 16, Streams: 1},
			[]string{"-proto", "http1", "-url", "http://10.201.0.3:8080/", "-rate", "1000", "-c", "16", "-duration", "5s", "-warmup", "1s", "-o", "json"}},
		{H2C, Point{Rate: 2000, Conns: 4, Streams: 4},
			[]string{"-proto", "h2c", "-url", "http://10.201.0.3:8082/", "-rate", "2000", "-c", "4", "-duration", "5s", "-warmup", "1s", "-o", "json", "-streams", "4"}},
		{GRPC, Point{Rate: 1000, Conns: 4, Streams: 4},
			[]string{"-proto", "grpc", "-addr", "10.201.0.3:8081", "-rate", "1000", "-c", "4", "-duration", "5s", "-warmup", "1s", "-o", "json", "-streams", "4"}},
		{TCP1KiB, Point{Rate: 1000, Conns: 16, Streams: 1},
			[]string{"-proto", "tcp", "-addr", "10.201.0.3:9000", "-rate", "1000", "-c", "16", "-duration", "5s", "-warmup", "1s", "-o", "json", "-size", "1024"}},
		{ChurnH1, Point{Rate: 500, Conns: 16, Streams: 1},
			[]string{"-proto", "http1", "-url", "http://10.201.0.3:8080/", "-rate", "500", "-c", "16", "-duration", "5s", "-warmup", "1s", "-o", "json", "-churn"}},
	}
	for _, c := range cases {
		t.Run(c.w, func(t *testing.T) {
			w, ok := Lookup(c.w)
			if !ok {
				t.Fatalf("no workload %q", c.w)
			}
			c.p.Workload = c.w
			if got := LoadgenArgs(w, c.p, srv, ports, 5*time.Second, time.Second); !slices.Equal(got, c.want) {
				t.Errorf("LoadgenArgs =\n%q\nwant\n%q", got, c.want)
			}
		})
	}
}

func TestToolArgs(t *testing.T) {
	if got, want := WrkArgs("http://x/", 64, 8*time.Second), []string{"-t1", "-c64", "-d8s", "http://x/"}; !slices.Equal(got, want) {
		t.Errorf("WrkArgs = %q", got)
	}
	if got, want := H2loadArgs("http://x/", 4, 16, 8*time.Second, time.Second), []string{"-t1", "-c4", "-m16", "-D", "8", "--warm-up-time=1s", "http://x/"}; !slices.Equal(got, want) {
		t.Errorf("H2loadArgs = %q", got)
	}
	if got, want := IperfArgs(netip.MustParseAddr("10.0.0.2"), 5201, 8*time.Second), []string{"-c", "10.0.0.2", "-p", "5201", "-t", "8", "-O", "1", "-J"}; !slices.Equal(got, want) {
		t.Errorf("IperfArgs = %q", got)
	}
	if got, want := FortioArgs("http://x/", 1000, 16, 10*time.Second, "/o.json"), []string{"load", "-qps", "1000", "-c", "16", "-t", "10s", "-p", "50,90,99,99.9", "-json", "/o.json", "-quiet", "http://x/"}; !slices.Equal(got, want) {
		t.Errorf("FortioArgs = %q", got)
	}
}

func TestPointNames(t *testing.T) {
	cases := []struct {
		p          Point
		key, label string
	}{
		{Point{Workload: HTTP1, Rate: 1000, Conns: 16, Streams: 1}, "http1-1000rps-16c", "1000 RPS, 16 conns"},
		{Point{Workload: H2C, Rate: 2000, Conns: 4, Streams: 4}, "h2c-2000rps-4x4", "2000 RPS, 4 conns × 4 streams"},
	}
	for _, c := range cases {
		if c.p.Key() != c.key || c.p.Label() != c.label {
			t.Errorf("%+v: Key %q Label %q; want %q %q", c.p, c.p.Key(), c.p.Label(), c.key, c.label)
		}
	}
}

func TestWindowFor(t *testing.T) {
	pl := Plan{Window: 5 * time.Second, MinSamples: 2000}
	cases := map[float64]time.Duration{200: 10 * time.Second, 1000: 5 * time.Second, 2000: 5 * time.Second, 300: 7 * time.Second}
	for rate, want := range cases {
		if got := pl.WindowFor(Point{Rate: rate}); got != want {
			t.Errorf("WindowFor(%g RPS) = %v, want %v", rate, got, want)
		}
	}
}

func TestPlans(t *testing.T) {
	for _, pl := range []Plan{Full(), Quick()} {
		for _, p := range pl.Points {
			if _, ok := Lookup(p.Workload); !ok {
				t.Errorf("%s plan: unknown workload %q", pl.Name, p.Workload)
			}
		}
	}
	all := func(topology.Proto) int { return 6 }
	if d := Quick().Estimate(func(topology.Proto) int { return 3 }); d > 2*time.Minute {
		t.Errorf("quick plan estimated at %v; make bench-quick must stay under 3 minutes with setup", d)
	}
	if d := Full().Estimate(all); d > 40*time.Minute {
		t.Errorf("full plan estimated at %v, over 40 minutes", d)
	}
}
