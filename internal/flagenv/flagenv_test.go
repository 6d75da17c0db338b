package flagenv

import (
	"flag"
	"io"
	"strings"
	"testing"
)

func TestApply(t *testing.T) {
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	addr := fs.String("inbound-addr", "0.0.0.0:4143", "")
	admin := fs.String("admin-addr", ":4191", "")
	n := fs.Int("count", 1, "")
	if err := fs.Parse([]string{"-admin-addr", "127.0.0.1:9"}); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{
		"P_INBOUND_ADDR": "1.2.3.4:5",
		"P_ADMIN_ADDR":   "ignored:1",
	}
	if err := Apply(fs, "P_", func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	if *addr != "1.2.3.4:5" || *admin != "127.0.0.1:9" || *n != 1 {
		t.Fatalf("got %q %q %d", *addr, *admin, *n)
	}
	env["P_COUNT"] = "many"
	err := Apply(fs, "P_", func(k string) string { return env[k] })
	if err == nil || !strings.Contains(err.Error(), "P_COUNT") {
		t.Fatalf("bad value error = %v, want it to name P_COUNT", err)
	}
}
