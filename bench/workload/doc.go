// Package workload says what the bench runs: the workloads (HTTP/1.1
// keep-alive, h2c, gRPC, TCP ping-pong, connection churn), the load points
// of each (rate, connections, streams), the full and quick plans, and the
// command lines of the tools that drive them from the client pod —
// bench/cmd/loadgen for fixed-rate latency, wrk and h2load for maximum
// throughput, iperf3 for bulk TCP, fortio for comparison with Istio's
// published numbers — with parsers for their output.
//
// Everything here is pure: argument lists in, parsed numbers out.
package workload
