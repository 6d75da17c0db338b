// Package loadgen is the bench harness's load generator: it drives an
// HTTP/1.1, h2c, gRPC or opaque TCP target at a fixed request rate and
// records latency percentiles that are corrected for coordinated omission,
// the way wrk2 and vegeta do.
//
// # Why open loop
//
// A closed-loop generator (each connection sends its next request when the
// previous one returns, as wrk and ab do) lets the server set the pace: when
// the server stalls for 200ms, the generator politely stops sending, so the
// stall costs a handful of slow samples out of many thousands and vanishes
// from p99. Real clients keep arriving during a stall, and every one of them
// waits. This is coordinated omission: the measurement coordinates with the
// system under test and omits exactly the samples that matter.
//
// Run therefore works in open loop when Options.Rate > 0. Send i is due at
// start + i/Rate, fixed in advance. Workers (Options.MaxInFlight, one request
// at a time each) take the next due send when they are free; if all are busy
// the schedule does not move, and a send taken late has its latency measured
// from the time it was due, so queueing behind a stall is counted. After a
// 200ms stall at 500 req/s, the next hundred requests show latencies from
// 200ms down to zero, and p99 says so. Result.Service keeps the uncorrected
// latency (from the actual send) for comparison, and Result.Lag how late
// sends went out.
//
// One refinement: a worker that is idle and waiting for a send to come due
// sleeps on a Go timer, which on Linux wakes up to about a millisecond late.
// That delay is the generator's, not the server's, so such a send is measured
// from when it actually went out. Only sends that were overdue because every
// worker was busy are measured from their scheduled time.
//
// Rate 0 gives the closed loop, for maximum-throughput runs.
//
// # Use
//
// Build a Target, whose constructor opens its connections before measuring
// starts, then Run it:
//
//	t, err := loadgen.NewHTTP1(ctx, loadgen.HTTP1Config{URL: "http://127.0.0.1:8080/", Conns: 16})
//	if err != nil { ... }
//	defer t.Close()
//	res, err := loadgen.Run(ctx, t, loadgen.Options{Rate: 2000, Duration: 10 * time.Second, Warmup: 2 * time.Second})
//	if err != nil { ... }
//	fmt.Println(res.Latency.P99, res.Percentiles([]float64{50, 99, 99.9}))
//	res.WriteTable(os.Stdout) // or json.Marshal(res)
//
// Targets: NewHTTP1 (keep-alive GETs with a small hand-rolled client, or a new
// connection per request with HTTP1Config.Churn), NewHTTP2 (h2c with prior
// knowledge, several streams per connection), NewGRPC (unary calls through an
// Invoker, by default the standard health check) and NewTCP (ping-pong echo).
//
// Latencies go into a Histogram: log-linear like HdrHistogram, within 0.4% of
// the true value from 1ns to 18 minutes, lock-free, allocation-free to record,
// and mergeable across runs.
package loadgen
