package healthcheck

import (
	"bytes"
	"os"
	"os/exec"
	"testing"
	"time"
)

func TestPreFlightHere(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("pre-flight checks need root (NET_ADMIN, a throwaway network namespace)")
	}
	if _, err := exec.LookPath("iptables"); err != nil {
		t.Skip("iptables not installed (apt-get install iptables)")
	}
	rs := Run(t.Context(), []Category{PreFlight(PreFlightEnv{Ports: []int{freePort(t)}})}, Options{Timeout: 30 * time.Second}, nil)
	var out bytes.Buffer
	Table(&out, rs)
	if !rs.Success() || rs.Count(StatusWarning) != 0 || len(rs) != 4 {
		t.Fatalf("pre-flight on this machine:\n%s", out.String())
	}
	t.Logf("\n%s", out.String())
}
