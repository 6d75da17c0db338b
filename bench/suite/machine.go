package suite

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"math"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// CPUModel returns the first "model name" of /proc/cpuinfo contents.
func CPUModel(cpuinfo []byte) string {
	sc := bufio.NewScanner(bytes.NewReader(cpuinfo))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}

// MemTotal renders MemTotal of /proc/meminfo contents in GiB.
func MemTotal(meminfo []byte) string {
	sc := bufio.NewScanner(bytes.NewReader(meminfo))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 3 && f[0] == "MemTotal:" && f[2] == "kB" {
			if kb, err := strconv.ParseFloat(f[1], 64); err == nil {
				return fmt.Sprintf("%.1f GiB", kb/(1<<20))
			}
		}
	}
	return "unknown"
}

// FirstLine returns the first non-empty line of b, trimmed.
func FirstLine(b []byte) string {
	for line := range strings.SplitSeq(string(b), "\n") {
		if line = strings.TrimSpace(line); line != "" {
			return line
		}
	}
	return ""
}

// readFile returns the file's contents or nil.
func readFile(path string) []byte {
	b, _ := os.ReadFile(path)
	return b
}

// output runs a command with a short timeout and returns stdout and
// stderr together (nginx -v and wrk -v print to stderr and may exit 1).
func output(ctx context.Context, name string, args ...string) []byte {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	out, _ := exec.CommandContext(ctx, name, args...).CombinedOutput()
	return out
}

// commit describes the working tree: short hash, and whether it has
// uncommitted changes.
func commit(ctx context.Context) string {
	h := FirstLine(output(ctx, "git", "rev-parse", "--short", "HEAD"))
	if h == "" || strings.Contains(h, "fatal") {
		return "unknown (not a git checkout)"
	}
	if len(bytes.TrimSpace(output(ctx, "git", "status", "--porcelain"))) > 0 {
		h += " with uncommitted changes"
	}
	return h
}

// versions asks each program in progs (name → path) for its version.
func versions(ctx context.Context, progs map[string]string) map[string]string {
	args := map[string][]string{
		"haproxy": {"-v"}, "nginx": {"-v"}, "wrk": {"-v"}, "h2load": {"--version"},
		"iperf3": {"--version"}, "fortio": {"version"},
	}
	out := map[string]string{}
	for name, path := range progs {
		a, ok := args[name]
		if !ok || path == "" {
			continue
		}
		v := FirstLine(output(ctx, path, a...))
		if name == "wrk" {
			v, _, _ = strings.Cut(v, " Copyright")
		}
		out[name] = v
	}
	return out
}

// kernel returns the running kernel's release.
func kernel() string {
	r := strings.TrimSpace(string(readFile("/proc/sys/kernel/osrelease")))
	if r == "" {
		return runtime.GOOS
	}
	return "Linux " + r
}

// Load1 returns the 1-minute load average from /proc/loadavg contents, or
// NaN.
func Load1(loadavg []byte) float64 {
	f := strings.Fields(string(loadavg))
	if len(f) == 0 {
		return math.NaN()
	}
	v, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		return math.NaN()
	}
	return v
}
