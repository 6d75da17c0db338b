// Package suite runs a bench plan end to end: it checks what the plan
// needs, builds the pods of every topology (package bench/topology) with
// the backend in each server pod, checks each path with one request per
// protocol, then runs the plan's points round by round — every point on
// every topology per round, so that drifts of a shared machine hit all
// alike — with the proxies' CPU and memory measured around each run, and
// returns report.Results. The pods are torn down when Run returns, also
// when its context is cancelled (Ctrl-C).
//
//	res, err := suite.Run(ctx, suite.Options{Plan: workload.Quick(), BinDir: "bin", OutDir: "bench/out"})
package suite
