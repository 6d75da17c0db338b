// Package measure reads what a proxy costs while a load runs: resident
// memory (VmRSS, steady, and VmHWM, peak) and CPU time (utime+stime) of
// every process in its process group from /proc, and counters from its
// Prometheus endpoint (go_gc_duration_seconds_count for GC cycles).
//
// A Monitor brackets one run:
//
//	m, err := measure.Start(ctx, measure.Target{PGID: proc.PID(), MetricsURL: url})
//	... run the load ...
//	u := m.Stop(ctx) // RSS steady (median of samples) and peak, CPU seconds, GC cycles
//
// The /proc parsers are pure functions with tests.
package measure
