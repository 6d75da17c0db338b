package netenv

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
)

// ipBin is the iproute2 binary every setup command runs.
const ipBin = "ip"

// ip runs `ip args...` and returns its standard output. A failure names the
// command and what it printed.
func ip(ctx context.Context, args ...string) ([]byte, error) {
	return run(ctx, nil, ipBin, args...)
}

// run runs one command, feeding it stdin when not nil.
func run(ctx context.Context, stdin []byte, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	if err := cmd.Run(); err != nil {
		out := strings.TrimSpace(stderr.String() + stdout.String())
		return nil, fmt.Errorf("netenv: %s %s: %w: %s", name, strings.Join(args, " "), err, out)
	}
	return stdout.Bytes(), nil
}

// ipBatch runs several ip commands (one per line, without the leading "ip")
// in one process, optionally inside netns ns.
func ipBatch(ctx context.Context, ns string, lines []string) error {
	args := []string{"-batch", "-"}
	if ns != "" {
		args = append([]string{"-n", ns}, args...)
	}
	_, err := run(ctx, []byte(strings.Join(lines, "\n")+"\n"), ipBin, args...)
	if err != nil {
		return fmt.Errorf("%w (batch: %s)", err, strings.Join(lines, "; "))
	}
	return nil
}

// listNetns returns the names of the named network namespaces.
func listNetns(ctx context.Context) ([]string, error) {
	out, err := ip(ctx, "-j", "netns", "list")
	if err != nil {
		return nil, err
	}
	var list []struct {
		Name string `json:"name"`
	}
	if len(bytes.TrimSpace(out)) == 0 {
		return nil, nil
	}
	if err := json.Unmarshal(out, &list); err != nil {
		return nil, fmt.Errorf("netenv: parse ip netns list: %w", err)
	}
	names := make([]string, 0, len(list))
	for _, n := range list {
		names = append(names, n.Name)
	}
	return names, nil
}

// listLinks returns the names of the links of the root network namespace.
func listLinks(ctx context.Context) ([]string, error) {
	out, err := ip(ctx, "-j", "link", "show")
	if err != nil {
		return nil, err
	}
	var list []struct {
		Name string `json:"ifname"`
	}
	if err := json.Unmarshal(out, &list); err != nil {
		return nil, fmt.Errorf("netenv: parse ip link show: %w", err)
	}
	names := make([]string, 0, len(list))
	for _, n := range list {
		names = append(names, n.Name)
	}
	return names, nil
}

// netnsPIDs returns the PIDs of the processes inside netns ns.
func netnsPIDs(ctx context.Context, ns string) ([]int, error) {
	out, err := ip(ctx, "netns", "pids", ns)
	if err != nil {
		return nil, err
	}
	var pids []int
	for _, f := range strings.Fields(string(out)) {
		var pid int
		if _, err := fmt.Sscan(f, &pid); err == nil && pid > 0 {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}
