// Package outlier ejects endpoints that keep failing from a service's
// load balancing for a while (Istio's DestinationRule outlierDetection,
// Envoy's consecutive-error detectors), as a balance.Balancer that wraps
// another and hides the ejected endpoints from it.
//
// # Use
//
//	cfg, ok := outlier.FromProto(traffic.OutlierDetection) // ok false: none configured
//	bal := outlier.New(balance.New(kind, opts), cfg)       // Update, Pick as any balancer
//	p, _ := bal.Pick(ctx)
//	... send ...
//	p.Done(balance.Result{...})                            // the wrapped balancer learns as usual
//	bal.Report(p.Endpoint().Key, outlier.Result{Result: res, Status: resp.StatusCode})
//
// Pick returns the wrapped balancer's Pick unchanged, so the detector
// adds no allocation and no Done of its own; it learns outcomes through
// Report, which carries the HTTP status that balance.Result lacks (502,
// 503 and 504 are gateway errors, other 5xx are not).
//
// # Semantics
//
// Each endpoint counts consecutive 5xx and consecutive gateway errors. A
// 502, 503 or 504 and a connection-level failure (Result.Err: connect
// failure, reset, timeout — Envoy maps them to 503/504) count in both; any
// other 5xx counts as a 5xx and breaks the run of gateway errors; a
// Result with Failure and no status counts as a non-gateway 5xx; anything
// else ends both runs. When a run reaches its threshold (Consecutive5xx,
// ConsecutiveGatewayErrors; 0 turns a detector off) the endpoint is
// ejected, and both runs restart — unless that would eject more than
// MaxEjectionPercent of the endpoints (counting this one), in which case
// it stays (Envoy's rule; with the default 10 % a set of fewer than ten
// endpoints never ejects: set max_ejection_percent, or AlwaysEjectOne,
// which allows one ejection whatever the percentage).
//
// An ejected endpoint stays out for BaseEjectionTime × the number of times
// it has been ejected, capped at MaxEjectionTime (300 s), and comes back
// at the first sweep after that. Sweeps happen every Interval, lazily: on
// the first Pick or Report after one is due — no goroutine. At each sweep
// an endpoint in the set lowers its ejection count by one, so one that
// behaves is forgiven gradually (Envoy's behaviour).
//
// When every endpoint is ejected (MaxEjectionPercent 100) the wrapped
// balancer gets all of them back rather than none: we prefer availability,
// like the proxy's failure accrual and Envoy's panic threshold. Update
// keeps the state of endpoints that stay (by Key); removed endpoints are
// forgotten, and Reports for them are ignored.
//
// # Defaults
//
// FromProto: Istio's — consecutive 5xx 5 when neither threshold is set,
// interval 10 s, base ejection time 30 s, max ejection percent 10.
package outlier
