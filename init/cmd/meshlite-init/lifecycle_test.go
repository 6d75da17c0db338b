package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/meshlite/meshlite/internal/netenv"
)

// fullArgs set every plan flag, so that every kind of rule is installed,
// read back and compared.
var fullArgs = []string{"--proxy-gid=2103", "--inbound-ports-to-ignore=4191,15020-15021",
	"--outbound-ports-to-ignore=22,25,1-10,100-200,300,301,302,303,304,305,306,307,308,309",
	"--subnets-to-ignore=10.1.0.0/16,fd00:1::/64", "--outbound-subnets-to-ignore=169.254.169.254,fd00:2::/64",
	"--pod-service-addresses=10.96.0.20,fd6d:6c00:ffff::20"}

// addUnrelated installs rules that are not meshlite's, in nat and filter,
// for both families of mode, one with a comment that merely mentions
// meshlite.
func addUnrelated(t *testing.T, pod *netenv.Pod, mode string) {
	t.Helper()
	for _, cmd := range []string{"iptables", "ip6tables"} {
		bin := cmd + "-" + mode
		ipt(t, pod, bin, "-t", "nat", "-A", "POSTROUTING", "-o", "eth0", "-m", "comment", "--comment", "meshlite is not the owner", "-j", "MASQUERADE")
		ipt(t, pod, bin, "-t", "nat", "-A", "OUTPUT", "-p", "tcp", "--dport", "53", "-j", "RETURN")
		ipt(t, pod, bin, "-A", "INPUT", "-p", "tcp", "--dport", "22", "-j", "ACCEPT")
	}
}

// TestLifecycle, for each backend: install next to unrelated rules,
// install again (idempotent, and auto mode finds the backend), verify,
// verify again after a rule is deleted (exit 5 naming it), remove
// (the exact prior rules are back), remove again (nothing to do).
func TestLifecycle(t *testing.T) {
	for _, mode := range []string{"legacy", "nft"} {
		t.Run(mode, func(t *testing.T) {
			pod := newPods(t, "p")[0]
			other := map[string]string{"legacy": "nft", "nft": "legacy"}[mode]
			addUnrelated(t, pod, mode)
			before := saveAll(t, pod, mode)

			mustInit(t, pod, append(fullArgs, "--mode="+mode)...)
			once := saveAll(t, pod, mode)
			for _, purpose := range []string{"inbound-jump", "inbound-ignore-port", "inbound-ignore-subnet", "inbound-redirect",
				"outbound-jump", "outbound-ignore-proxy-uid", "outbound-ignore-proxy-gid", "outbound-ignore-port",
				"outbound-ignore-subnet", "outbound-redirect-own-service", "outbound-ignore-loopback", "outbound-redirect"} {
				if n := strings.Count(once, `"meshlite/`+purpose+`"`); n < 2 {
					t.Errorf("meshlite/%s: %d rules, want one per family at least:\n%s", purpose, n, once)
				}
			}
			if strings.Contains(saveAll(t, pod, other), "meshlite/") {
				t.Errorf("rules landed in %s too", other)
			}

			r := mustInit(t, pod, fullArgs...)
			if !strings.Contains(r.stdout, "mode "+mode) || strings.Count(r.stdout, "already in place") != 2 {
				t.Errorf("second run in auto mode:\n%s", r)
			}
			if twice := saveAll(t, pod, mode); twice != once {
				t.Errorf("second run changed the rules:\n%s\nwant\n%s", twice, once)
			}

			mustInit(t, pod, append(fullArgs, "--verify")...)
			deleted := []string{"-t", "nat", "-D", "MESHLITE_OUTPUT", "-o", "lo", "-p", "tcp", "-m", "comment", "--comment", "meshlite/outbound-ignore-loopback", "-j", "RETURN"}
			ipt(t, pod, "ip6tables-"+mode, deleted...)
			r = runInit(t, pod, nil, append(fullArgs, "--verify")...)
			want := `IPv6: missing: -A MESHLITE_OUTPUT -o lo -p tcp -m comment --comment "meshlite/outbound-ignore-loopback" -j RETURN`
			if r.code != exitMismatch || !strings.Contains(r.stderr, want) || strings.Contains(r.stderr, "IPv4:") {
				t.Errorf("--verify after deleting a rule: %s\nwant exit 5 and %s", r, want)
			}
			// Different options than installed: --verify names what
			// differs; --remove does not care.
			r = runInit(t, pod, nil, "--verify", "--outbound-port=15001")
			if r.code != exitMismatch || !strings.Contains(r.stderr, "--to-ports 15001") {
				t.Errorf("--verify with another port: %s", r)
			}

			r = mustInit(t, pod, "--remove")
			if after := saveAll(t, pod, mode); after != before {
				t.Errorf("after --remove:\n%s\nwant the prior rules:\n%s", after, before)
			}
			r = mustInit(t, pod, "--remove")
			if strings.Count(r.stdout, "nothing to remove") != 2 {
				t.Errorf("second --remove: %s", r)
			}
			if after := saveAll(t, pod, mode); after != before {
				t.Errorf("second --remove changed the rules")
			}
		})
	}
}

// TestAutoModeFresh: in a pod without rules, auto mode picks the backend
// of the plain iptables binary.
func TestAutoModeFresh(t *testing.T) {
	pod := newPods(t, "p")[0]
	v, err := exec.Command("iptables", "--version").Output()
	if err != nil {
		t.Skipf("no plain iptables binary: %v", err)
	}
	want := "legacy"
	if strings.Contains(string(v), "nf_tables") {
		want = "nft"
	}
	r := mustInit(t, pod)
	if !strings.Contains(r.stdout, "meshlite-init: mode "+want+" ") {
		t.Errorf("auto mode in a fresh pod with %s: %s", strings.TrimSpace(string(v)), r)
	}
	if !strings.Contains(saveAll(t, pod, want), "meshlite/outbound-redirect") {
		t.Errorf("no rules in %s", want)
	}
}

// TestDryRunIsExact: what --dry-run prints, fed to iptables-restore,
// passes --verify: the plan is exactly what is installed.
func TestDryRunIsExact(t *testing.T) {
	pod := newPods(t, "p")[0]
	plan := mustInit(t, pod, append(fullArgs, "--dry-run")...).stdout
	i := strings.Index(plan, "# meshlite-init plan for ip6tables")
	if i < 0 {
		t.Fatalf("no IPv6 block in\n%s", plan)
	}
	v4, v6 := plan[:i], plan[i:]
	for _, b := range []struct{ bin, rules string }{{"iptables-nft-restore", v4}, {"ip6tables-nft-restore", v6}} {
		cmd := pod.Command(t.Context(), 0, b.bin, "--noflush")
		cmd.Stdin = strings.NewReader(b.rules)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s: %v: %s", b.bin, err, out)
		}
	}
	mustInit(t, pod, append(fullArgs, "--verify", "--mode=nft")...)
}

// TestRollback: ip6tables fails on one rule after every IPv4 rule and some
// IPv6 ones are in: meshlite-init exits 1 and the prior rules are back,
// exactly.
func TestRollback(t *testing.T) {
	pod := newPods(t, "p")[0]
	real, err := exec.LookPath("ip6tables-nft")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	wrapper := `#!/bin/sh
for a in "$@"; do
	if [ "$a" = "meshlite/outbound-redirect" ]; then echo "ip6tables-nft: injected failure" >&2; exit 1; fi
done
exec ` + real + ` "$@"
`
	if err := os.WriteFile(filepath.Join(dir, "ip6tables-nft"), []byte(wrapper), 0o755); err != nil {
		t.Fatal(err)
	}
	addUnrelated(t, pod, "nft")
	before := saveAll(t, pod, "nft")
	r := runInit(t, pod, []string{"PATH=" + dir + ":" + os.Getenv("PATH")}, append(fullArgs, "--mode=nft")...)
	if r.code != exitFailure || !strings.Contains(r.stderr, "injected failure") || !strings.Contains(r.stderr, "rolled back") {
		t.Fatalf("want exit 1, the injected failure, rolled back: %s", r)
	}
	if after := saveAll(t, pod, "nft"); after != before {
		t.Errorf("after the rollback:\n%s\nwant the prior rules:\n%s", after, before)
	}
}

// TestLockBusy: with the xtables lock held, legacy mode gives up after
// --lock-wait with exit 4 and changes nothing.
func TestLockBusy(t *testing.T) {
	pod := newPods(t, "p")[0]
	lock := filepath.Join(t.TempDir(), "xtables.lock")
	f, err := os.Create(lock)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	before := saveAll(t, pod, "legacy")
	start := time.Now()
	r := runInit(t, pod, []string{"XTABLES_LOCKFILE=" + lock}, "--mode=legacy", "--lock-wait=1s")
	if r.code != exitLockBusy || !strings.Contains(r.stderr, "xtables lock busy") {
		t.Fatalf("want exit 4, xtables lock busy: %s", r)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("gave up after %v, want about 1s", d)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_UN); err != nil {
		t.Fatal(err)
	}
	if after := saveAll(t, pod, "legacy"); after != before {
		t.Errorf("rules changed:\n%s", after)
	}
	r = runInit(t, pod, []string{"XTABLES_LOCKFILE=" + lock}, "--mode=legacy", "--lock-wait=1s")
	if r.code != 0 {
		t.Errorf("with the lock free: %s", r)
	}
}

// TestNoNetAdmin: without CAP_NET_ADMIN (root without it, or another uid)
// meshlite-init exits 3 and says why; --dry-run needs no privilege.
func TestNoNetAdmin(t *testing.T) {
	pod := newPods(t, "p")[0]
	bin := initBin(t)
	for _, tc := range []struct {
		name string
		cmd  *exec.Cmd
	}{
		{"root without NET_ADMIN", pod.Command(t.Context(), 0, "setpriv", "--bounding-set=-net_admin", "--", bin)},
		{"uid 1000", pod.Command(t.Context(), 1000, bin)},
		{"uid 1000 verify", pod.Command(t.Context(), 1000, bin, "--verify")},
		{"uid 1000 remove", pod.Command(t.Context(), 1000, bin, "--remove")},
	} {
		r := runCmd(t, tc.cmd, nil)
		if r.code != exitPermission || !strings.Contains(r.stderr, "CAP_NET_ADMIN") {
			t.Errorf("%s: %s\nwant exit 3 naming CAP_NET_ADMIN", tc.name, r)
		}
	}
	if r := runCmd(t, pod.Command(t.Context(), 1000, bin, "--dry-run"), nil); r.code != 0 || !strings.Contains(r.stdout, "*nat") {
		t.Errorf("--dry-run as uid 1000: %s", r)
	}
	if s := saveAll(t, pod, "nft") + saveAll(t, pod, "legacy"); strings.Contains(s, "meshlite") {
		t.Errorf("rules installed:\n%s", s)
	}
}
