// Package accesslog keeps a proxy's recent access-log lines in memory and
// streams new ones, for `meshctl logs`.
//
// A Ring is an io.Writer fed by the access logger (Tee puts it beside the
// log's usual output): it keeps the last N lines exactly as they were
// logged and hands new ones to followers. Writing never blocks: a
// follower whose bounded queue is full misses lines, and learns how many.
//
// Handler serves the ring on the admin port as GET /logs:
//
//	GET /logs?since=5m&trace=4bf92f3577b34da6a3ce929d0e0e4736&follow=1
//
// answers the matching recent lines, then (with follow) new ones as they
// come, one JSON object per line (application/x-ndjson).
package accesslog
