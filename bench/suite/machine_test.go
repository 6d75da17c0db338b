package suite

import (
	"math"
	"slices"
	"testing"

	"github.com/meshlite/meshlite/bench/topology"
	"github.com/meshlite/meshlite/bench/workload"
)

func TestMachineParsers(t *testing.T) {
	cpuinfo := []byte("processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 7B13\nprocessor\t: 1\nmodel name\t: AMD EPYC 7B13\n")
	if got := CPUModel(cpuinfo); got != "AMD EPYC 7B13" {
		t.Errorf("CPUModel = %q", got)
	}
	if got := CPUModel(nil); got != "unknown CPU" {
		t.Errorf("CPUModel(nil) = %q", got)
	}
	if got := MemTotal([]byte("MemTotal:       24559876 kB\nMemFree:         1000 kB\n")); got != "23.4 GiB" {
		t.Errorf("MemTotal = %q", got)
	}
	if got := FirstLine([]byte("\n  nginx version: nginx/1.22.1\nbuilt by gcc\n")); got != "nginx version: nginx/1.22.1" {
		t.Errorf("FirstLine = %q", got)
	}
	if got := Load1([]byte("3.52 2.10 1.00 2/345 6789\n")); got != 3.52 {
		t.Errorf("Load1 = %v", got)
	}
	if got := Load1(nil); !math.IsNaN(got) {
		t.Errorf("Load1(nil) = %v, want NaN", got)
	}
}

func TestNeeds(t *testing.T) {
	all, _ := topology.Select(nil)
	got := needs(workload.Full(), all)
	want := []string{"fortio", "h2load", "haproxy", "ip", "iperf3", "iptables", "nginx", "setpriv", "wrk"}
	if !slices.Equal(got, want) {
		t.Errorf("full plan needs %v, want %v", got, want)
	}
	quick, _ := topology.Select(workload.Quick().Topologies)
	if got := needs(workload.Quick(), quick); !slices.Equal(got, []string{"ip", "iptables", "setpriv"}) {
		t.Errorf("quick plan needs %v", got)
	}
}
