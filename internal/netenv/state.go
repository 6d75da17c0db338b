package netenv

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// stateDir holds one owner record per live Env, named after the Env, and
// the lock that serialises choosing subnets and cleaning stale envs. It is
// on a tmpfs, like /run/netns, so both vanish together at reboot.
const stateDir = "/run/meshlite-netenv"

// lockFile is the flock(2) taken while picking a subnet or cleaning up.
const lockFile = ".lock"

// owner is the record of the process that created an Env.
type owner struct {
	PID int `json:"pid"`
	// Start is the owner's start time (field 22 of /proc/PID/stat), so a
	// reused PID is not mistaken for the owner.
	Start   uint64 `json:"start"`
	PodCIDR string `json:"pod_cidr"`
	// PodCIDR6 is empty when IPv6 is off.
	PodCIDR6 string    `json:"pod_cidr6,omitempty"`
	Created  time.Time `json:"created"`
}

// self returns the owner record of the running process.
func self(p4, p6 netip.Prefix) (owner, error) {
	start, err := procStart(os.Getpid())
	if err != nil {
		return owner{}, err
	}
	o := owner{PID: os.Getpid(), Start: start, PodCIDR: p4.String(), Created: time.Now().UTC()}
	if p6.IsValid() {
		o.PodCIDR6 = p6.String()
	}
	return o, nil
}

// alive reports whether the owner process still runs.
func (o owner) alive() bool {
	if o.PID <= 0 {
		return false
	}
	start, err := procStart(o.PID)
	return err == nil && start == o.Start
}

// prefixes returns the pod subnets the record claims.
func (o owner) prefixes() []netip.Prefix {
	var out []netip.Prefix
	for _, s := range []string{o.PodCIDR, o.PodCIDR6} {
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
		}
	}
	return out
}

// procStart reads the start time of process pid from /proc.
func procStart(pid int) (uint64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("netenv: read start time of pid %d: %w", pid, err)
	}
	// The command name (field 2) may contain spaces; fields after it start
	// at "state" (field 3), so starttime (field 22) is index 19.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0, fmt.Errorf("netenv: parse /proc/%d/stat", pid)
	}
	fields := strings.Fields(string(b[i+1:]))
	if len(fields) < 20 {
		return 0, fmt.Errorf("netenv: parse /proc/%d/stat", pid)
	}
	return strconv.ParseUint(fields[19], 10, 64)
}

// recordPath is the owner record file of the Env named name.
func recordPath(name string) string { return filepath.Join(stateDir, name) }

// writeRecord writes o as the owner record of the Env named name, atomically.
func writeRecord(name string, o owner) error {
	b, err := json.Marshal(o)
	if err != nil {
		return fmt.Errorf("netenv: encode owner record: %w", err)
	}
	tmp := filepath.Join(stateDir, ".tmp-"+name)
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("netenv: write owner record: %w", err)
	}
	if err := os.Rename(tmp, recordPath(name)); err != nil {
		return fmt.Errorf("netenv: write owner record: %w", err)
	}
	return nil
}

// readRecords returns every owner record by Env name. A record that cannot
// be parsed is returned as the zero owner, which is never alive.
func readRecords() (map[string]owner, error) {
	entries, err := os.ReadDir(stateDir)
	if errors.Is(err, fs.ErrNotExist) {
		return map[string]owner{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("netenv: read %s: %w", stateDir, err)
	}
	recs := make(map[string]owner, len(entries))
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") || e.IsDir() {
			continue
		}
		var o owner
		if b, err := os.ReadFile(filepath.Join(stateDir, e.Name())); err == nil {
			_ = json.Unmarshal(b, &o) // a torn record is treated as dead
		}
		recs[e.Name()] = o
	}
	return recs, nil
}

// lockState takes the state lock, polling until ctx is done. The returned
// function releases it.
func lockState(ctx context.Context) (func(), error) {
	if err := os.MkdirAll(stateDir, 0o755); err != nil {
		return nil, fmt.Errorf("netenv: create %s: %w", stateDir, err)
	}
	path := filepath.Join(stateDir, lockFile)
	fd, err := unix.Open(path, unix.O_CREAT|unix.O_RDWR|unix.O_CLOEXEC, 0o644)
	if err != nil {
		return nil, fmt.Errorf("netenv: open %s: %w", path, err)
	}
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		err := unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			return func() { _ = unix.Close(fd) }, nil // closing drops the lock
		}
		if !errors.Is(err, unix.EWOULDBLOCK) && !errors.Is(err, unix.EINTR) {
			_ = unix.Close(fd)
			return nil, fmt.Errorf("netenv: lock %s: %w", path, err)
		}
		select {
		case <-ctx.Done():
			_ = unix.Close(fd)
			return nil, fmt.Errorf("netenv: lock %s: %w", path, ctx.Err())
		case <-tick.C:
		}
	}
}
