// Package stats turns what proxies report into the tables meshctl shows:
// their tap streams into `meshctl top`'s rows (Top), and their own
// Prometheus metrics, scraped twice a window apart, into per-workload
// success rates, request rates and latency percentiles (Workloads,
// Services) and the client→server pairs with their identities and
// whether the hop was mutual TLS (Edges). No Prometheus server is needed.
// Renderers (RenderTop, RenderStat, RenderEdges and their JSON forms)
// are apart from the computation, so both are tested on fixed inputs.
package stats
