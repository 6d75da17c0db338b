// Package metrics defines the proxy's Prometheus metrics, with names and
// labels compatible with Linkerd's proxy so existing dashboards work.
//
// Every label value that comes from traffic (authority, status) goes through
// a bound: at most MaxAuthorities distinct authorities are tracked per
// process, the rest are counted under "overflow", so a client sending random
// Host headers cannot grow the metrics without limit.
package metrics
