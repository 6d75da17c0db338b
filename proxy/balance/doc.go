// Package balance holds the proxy's request-level load balancers: for every
// HTTP request (each HTTP/2 stream on its own) and every opaque TCP
// connection, a Balancer picks one endpoint of the service, and learns how
// it went when the request or connection ends.
//
// # Use
//
// Build a balancer by name with New, the name the destination service
// announces ("" means peak-ewma; Istio's ROUND_ROBIN, LEAST_CONN, ... are
// accepted as written). Feed it the service's endpoints with Update whenever
// the destination watch changes them. Per request call Pick, send the
// request to Pick.Endpoint().Addr, and call Pick.Done exactly once with a
// Result when it ends — also when it failed or was cancelled:
//
//	b, err := balance.New(kind, balance.Options{})
//	...
//	b.Update(endpoints) // from the destination watch
//	p, err := b.Pick(ctx)
//	if err != nil { ... } // ErrNoEndpoints
//	resp, err := send(p.Endpoint().Addr, req)
//	p.Done(balance.Result{Latency: elapsed, Err: connErr, Failure: resp.StatusCode >= 500})
//
// Pick and Done are on the per-request path and allocate nothing. Pick
// takes no lock except in weighted round robin (and around an injected
// Options.Rand); peak-EWMA's Done takes a lock of the one endpoint; failure
// accrual locks only when an endpoint changes state. All methods are safe
// for concurrent use.
//
// # Endpoint churn
//
// Update replaces the endpoint set. Endpoints are matched by Key (default:
// the address): one that stays keeps its state (latency estimate, requests
// in flight, failure count, backoff); a new one starts fresh; a removed one
// is not picked by any Pick that starts after Update returns, and Done for
// a Pick of it, arriving later, is harmless. In-flight requests are never
// touched. An endpoint removed and added again starts fresh.
//
// # Weights
//
// Endpoint.Weight 0 means 1 (unset). Weighted round robin and random honour
// weights; peak-EWMA, least-request and round robin ignore them: their
// choice follows measured latency, load or plain turns.
//
// # Algorithms and their defaults
//
// peak-ewma (PeakEWMA, the default, as in Linkerd and Finagle): power of two
// choices over cost = latency estimate × (requests in flight + 1). Pick
// draws two distinct endpoints at random and takes the cheaper. The estimate
// is a peak-sensitive EWMA of measured latencies: a measurement above it
// replaces it at once (so a latency spike counts immediately); one below
// pulls it toward the measurement by 1-e^(-Δt/Decay), Δt being the time
// since the last measurement. Between measurements the estimate decays
// toward zero with the same time constant, so an endpoint avoided because it
// was slow is tried again after a while (Finagle's and tower's behaviour).
// Decay is 10 s (Linkerd's). An endpoint never measured is estimated at
// DefaultRTT, 30 ms (Linkerd's), decaying from when it was added: among
// slower or busier endpoints it is tried at once, among faster ones after
// about Decay×ln(30 ms / their latency). Its first measurement replaces the
// default. A Result with Err counts as a latency of at least ErrorRTT, 1 s,
// so an endpoint that refuses connections quickly does not look fast and
// draw traffic. Bias: latency and load only, weights ignored.
//
// least-request (LeastRequest; alias least-conn, for TCP the connections
// open): an endpoint with the fewest requests in flight. Up to 16 endpoints
// it scans them all, starting at a random place so ties are broken at
// random; above that it uses power of two choices like Envoy's and Istio's
// LEAST_REQUEST, which keeps the most loaded endpoint within about
// log log n of the mean at O(1) per pick.
//
// round-robin (RoundRobin): the endpoints in turn, in Update order. The
// cursor starts at a random place, so proxies started together do not all
// begin with the same endpoint, and it survives Update.
//
// weighted-round-robin (WeightedRoundRobin): nginx's smooth weighted round
// robin. Every cycle of total-weight picks gives each endpoint exactly its
// weight, interleaved (5, 1, 1 → a a b a c a a); it is deterministic and
// O(n) per pick under a lock.
//
// random (Random): a random endpoint, with probability proportional to its
// weight.
//
// # Failure accrual
//
// New wraps every balancer in NewFailureAccrual (turn it off with
// Options.NoFailureAccrual). After 7 consecutive failures (Linkerd's
// default; Result.Err only, unless AccrualOptions.CountFailures adds
// Result.Failure) an endpoint is set aside: the wrapped balancer no longer
// sees it. After a backoff of 1 s, lengthened at random by up to 50 %, one
// request probes it (half-open); success puts it back, with its state in the
// wrapped balancer fresh, failure doubles the backoff, up to 60 s. While
// every endpoint is set aside, requests go to a random one of them instead
// of failing: we prefer availability, as the proxy does elsewhere. A success
// there puts that endpoint back at once; a failure changes nothing.
//
// # Time and randomness
//
// Options.Clock and Options.Rand replace time.Now and the runtime's random
// generator, so tests check decay, backoff and distributions by simulation,
// without sleeping.
package balance
