package measure

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/<pid>/stat:
// 100 on every Linux architecture Go supports.
const clockTicks = 100

// Stat is what the bench reads from /proc/<pid>/stat.
type Stat struct {
	PGRP int
	// UTime and STime are in clock ticks (1/100 s).
	UTime, STime uint64
}

// ParseStat parses the contents of /proc/<pid>/stat. The command name
// (field 2) may hold spaces and parentheses, so fields are counted from
// the last ')'.
func ParseStat(b []byte) (Stat, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return Stat{}, fmt.Errorf("measure: stat: no command name")
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state): pgrp is field 5, utime 14, stime 15.
	if len(f) < 13 {
		return Stat{}, fmt.Errorf("measure: stat: %d fields", len(f)+2)
	}
	pgrp, err1 := strconv.Atoi(f[2])
	ut, err2 := strconv.ParseUint(f[11], 10, 64)
	st, err3 := strconv.ParseUint(f[12], 10, 64)
	if err1 != nil || err2 != nil || err3 != nil {
		return Stat{}, fmt.Errorf("measure: stat: bad number")
	}
	return Stat{PGRP: pgrp, UTime: ut, STime: st}, nil
}

// Status is what the bench reads from /proc/<pid>/status, in bytes.
type Status struct {
	VmRSS, VmHWM int64
	// RssAnon is the anonymous (heap, stacks) part of VmRSS; the rest is
	// mostly the executable's and libraries' file pages.
	RssAnon int64
}

// ParseStatus parses the VmRSS, VmHWM and RssAnon lines of
// /proc/<pid>/status (RssAnon is optional).
func ParseStatus(b []byte) (Status, error) {
	var s Status
	found := 0
	for line := range strings.SplitSeq(string(b), "\n") {
		name, rest, ok := strings.Cut(line, ":")
		if !ok || (name != "VmRSS" && name != "VmHWM" && name != "RssAnon") {
			continue
		}
		f := strings.Fields(rest)
		if len(f) != 2 || f[1] != "kB" {
			return Status{}, fmt.Errorf("measure: status: %q", line)
		}
		kb, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return Status{}, fmt.Errorf("measure: status: %q", line)
		}
		switch name {
		case "VmRSS":
			s.VmRSS = kb << 10
			found++
		case "VmHWM":
			s.VmHWM = kb << 10
			found++
		default:
			s.RssAnon = kb << 10
		}
	}
	if found != 2 {
		return Status{}, fmt.Errorf("measure: status: VmRSS or VmHWM missing (kernel thread or exited?)")
	}
	return s, nil
}

// Sample is a process group's totals at one moment.
type Sample struct {
	// Procs is how many processes were counted.
	Procs int
	// RSS, HWM and Anon are summed VmRSS, VmHWM and RssAnon in bytes.
	RSS, HWM, Anon int64
	// CPUTicks is summed utime+stime.
	CPUTicks uint64
}

// CPUSeconds returns the sample's CPU time in seconds.
func (s Sample) CPUSeconds() float64 { return float64(s.CPUTicks) / clockTicks }

// procRoot is /proc; tests may point it elsewhere.
var procRoot = "/proc"

// groupPIDs returns the pids whose process group is pgid.
func groupPIDs(pgid int) ([]int, error) {
	entries, err := os.ReadDir(procRoot)
	if err != nil {
		return nil, fmt.Errorf("measure: %w", err)
	}
	var out []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join(procRoot, e.Name(), "stat"))
		if err != nil {
			continue // exited meanwhile
		}
		if st, err := ParseStat(b); err == nil && st.PGRP == pgid {
			out = append(out, pid)
		}
	}
	return out, nil
}

// SampleGroup sums VmRSS, VmHWM and CPU time over process group pgid
// (nginx: master and workers; the others: one process).
func SampleGroup(pgid int) (Sample, error) {
	pids, err := groupPIDs(pgid)
	if err != nil {
		return Sample{}, err
	}
	var s Sample
	for _, pid := range pids {
		dir := filepath.Join(procRoot, strconv.Itoa(pid))
		sb, err1 := os.ReadFile(filepath.Join(dir, "stat"))
		tb, err2 := os.ReadFile(filepath.Join(dir, "status"))
		if err1 != nil || err2 != nil {
			continue // exited meanwhile
		}
		st, err := ParseStat(sb)
		if err != nil {
			return Sample{}, err
		}
		ss, err := ParseStatus(tb)
		if err != nil {
			continue
		}
		s.Procs++
		s.RSS += ss.VmRSS
		s.HWM += ss.VmHWM
		s.Anon += ss.RssAnon
		s.CPUTicks += st.UTime + st.STime
	}
	if s.Procs == 0 {
		return s, fmt.Errorf("measure: no process in group %d", pgid)
	}
	return s, nil
}

// ResetPeak sets VmHWM back to the current VmRSS for every process of the
// group (writing 5 to /proc/<pid>/clear_refs), so the next VmHWM is the
// peak of what follows.
func ResetPeak(pgid int) error {
	pids, err := groupPIDs(pgid)
	if err != nil {
		return err
	}
	for _, pid := range pids {
		path := filepath.Join(procRoot, strconv.Itoa(pid), "clear_refs")
		if err := os.WriteFile(path, []byte("5"), 0o200); err != nil && !os.IsNotExist(err) {
			return fmt.Errorf("measure: reset peak RSS: %w", err)
		}
	}
	return nil
}
