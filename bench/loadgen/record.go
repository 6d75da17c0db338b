package loadgen

import "time"

// maxShards bounds how many histogram sets a run allocates; workers share
// them round-robin (Histogram.Record is safe for concurrent use).
const maxShards = 8

// shard is one set of histograms.
type shard struct {
	latency, service, lag Histogram
}

// recorder holds one worker's counters; only that worker touches it.
type recorder struct {
	sh       *shard
	requests int64
	errors   int64
	kinds    map[string]int64
	last     time.Time // latest completion
}

// record adds one measured request. Latency and service time are recorded
// for successes only; lag for every request sent.
func (r *recorder) record(latency, service, lag time.Duration, done time.Time, err error) {
	r.requests++
	if done.After(r.last) {
		r.last = done
	}
	r.sh.lag.Record(lag)
	if err != nil {
		r.errors++
		if r.kinds == nil {
			r.kinds = make(map[string]int64)
		}
		r.kinds[errorKind(err)]++
		return
	}
	r.sh.latency.Record(latency)
	r.sh.service.Record(service)
}

// recorders is every worker's recorder and the shared shards.
type recorders struct {
	shards  []*shard
	workers []*recorder
}

func newRecorders(workers int) *recorders {
	rs := &recorders{shards: make([]*shard, min(workers, maxShards)), workers: make([]*recorder, workers)}
	for i := range rs.shards {
		rs.shards[i] = new(shard)
	}
	for i := range rs.workers {
		rs.workers[i] = &recorder{sh: rs.shards[i%len(rs.shards)]}
	}
	return rs
}

func (rs *recorders) worker(w int) *recorder { return rs.workers[w] }

// result merges everything into a Result for a window starting at warmEnd.
func (rs *recorders) result(o Options, warmEnd time.Time) *Result {
	var all shard
	for _, s := range rs.shards {
		all.latency.Merge(&s.latency)
		all.service.Merge(&s.service)
		all.lag.Merge(&s.lag)
	}
	res := &Result{
		Rate:        o.Rate,
		Connections: o.Connections,
		MaxInFlight: o.MaxInFlight,
		Warmup:      o.Warmup,
		Duration:    o.Duration,
		ErrorKinds:  map[string]int64{},
		Latency:     summarize(&all.latency),
		Service:     summarize(&all.service),
		Lag:         summarize(&all.lag),
		hist:        &all.latency,
	}
	var last time.Time
	for _, r := range rs.workers {
		res.Requests += r.requests
		res.Errors += r.errors
		for k, n := range r.kinds {
			res.ErrorKinds[k] += n
		}
		if r.last.After(last) {
			last = r.last
		}
	}
	res.Elapsed = max(o.Duration, last.Sub(warmEnd))
	res.Achieved = float64(res.Requests) / res.Elapsed.Seconds()
	return res
}
