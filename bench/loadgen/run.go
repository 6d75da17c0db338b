package loadgen

import (
	"context"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// Options configures Run.
type Options struct {
	// Rate is the request rate in requests per second over all connections.
	// Default 0: closed loop, every worker sends its next request as soon as
	// the previous one completes (maximum throughput; latency is then measured
	// from the actual send and hides stalls).
	Rate float64
	// Duration is the length of the measured window. Required.
	Duration time.Duration
	// Warmup is a window before the measured one, at the same rate, whose
	// requests are sent but not recorded. Default 0.
	Warmup time.Duration
	// Connections is how many of the target's connections to use (the first
	// ones). Default 0: all of them.
	Connections int
	// MaxInFlight is the number of workers, that is the most requests
	// outstanding at once; worker w uses connection w mod Connections. It may
	// not exceed Connections × the target's streams per connection.
	// Default 0: that product.
	MaxInFlight int
	// Drain bounds how long after the window ends the requests already due
	// may still be sent and complete. Requests still running then are
	// cancelled (counted as errors); scheduled ones never sent are counted
	// in Result.Unsent. Default 5s.
	Drain time.Duration
}

// defaultDrain is Options.Drain's default.
const defaultDrain = 5 * time.Second

// startLead delays the first scheduled send so that the workers are running.
const startLead = time.Millisecond

// withDefaults validates o against t's capacity and fills in defaults.
func (o Options) withDefaults(t Target) (Options, error) {
	conns, streams := t.Capacity()
	switch {
	case o.Duration <= 0:
		return o, fmt.Errorf("%w: Duration %v must be positive", ErrConfig, o.Duration)
	case o.Rate < 0 || math.IsNaN(o.Rate) || math.IsInf(o.Rate, 0):
		return o, fmt.Errorf("%w: Rate %v", ErrConfig, o.Rate)
	case o.Warmup < 0 || o.Drain < 0:
		return o, fmt.Errorf("%w: negative Warmup or Drain", ErrConfig)
	case conns < 1 || streams < 1:
		return o, fmt.Errorf("%w: target capacity %d×%d", ErrConfig, conns, streams)
	case o.Connections < 0 || o.Connections > conns:
		return o, fmt.Errorf("%w: Connections %d, target has %d", ErrConfig, o.Connections, conns)
	}
	if o.Connections == 0 {
		o.Connections = conns
	}
	if limit := o.Connections * streams; o.MaxInFlight < 0 || o.MaxInFlight > limit {
		return o, fmt.Errorf("%w: MaxInFlight %d, at most %d connections × %d streams",
			ErrConfig, o.MaxInFlight, o.Connections, streams)
	} else if o.MaxInFlight == 0 {
		o.MaxInFlight = limit
	}
	if o.Drain == 0 {
		o.Drain = defaultDrain
	}
	return o, nil
}

// schedule is the open-loop send plan: slot i is due at start + i/rate. Slots
// are claimed in order by whichever worker is free; the plan never moves.
type schedule struct {
	start    time.Time
	interval float64 // nanoseconds between sends
	warm     int64   // slots [0, warm) are warmup
	total    int64   // slots [warm, total) are measured
	next     atomic.Int64
}

func newSchedule(start time.Time, o Options) *schedule {
	slots := func(d time.Duration) int64 {
		return int64(math.Ceil(d.Seconds()*o.Rate - 1e-9)) // slots due before d
	}
	return &schedule{
		start:    start,
		interval: 1e9 / o.Rate,
		warm:     slots(o.Warmup),
		total:    slots(o.Warmup + o.Duration),
	}
}

func (s *schedule) due(i int64) time.Time {
	return s.start.Add(time.Duration(float64(i) * s.interval))
}

// Run drives t for o.Warmup+o.Duration and reports the measured window.
//
// With o.Rate > 0 (open loop) sends are scheduled at exact intervals and
// shared among o.MaxInFlight workers. When every worker is busy the schedule
// does not move: the next free worker takes the oldest due send, and its
// latency counts from the time it was due, so a stalled server shows up as
// latency rather than as a lower rate (coordinated omission). A worker that
// was idle, waiting for its send to come due, measures from its actual send
// instead, so the Go timer's wake-up delay (up to ~1ms) is not charged to the
// server; Result.Lag shows that delay.
//
// Only successful requests enter the latency histograms; errors are counted
// by kind. If ctx is cancelled Run stops early and returns what it measured
// together with ctx's error.
func Run(ctx context.Context, t Target, o Options) (*Result, error) {
	o, err := o.withDefaults(t)
	if err != nil {
		return nil, err
	}
	start := time.Now().Add(startLead)
	warmEnd := start.Add(o.Warmup)
	end := warmEnd.Add(o.Duration)
	runCtx, cancel := context.WithDeadline(ctx, end.Add(o.Drain))
	defer cancel()

	rec := newRecorders(o.MaxInFlight)
	var sched *schedule
	if o.Rate > 0 {
		sched = newSchedule(start, o)
	}
	var wg sync.WaitGroup
	for w := range o.MaxInFlight {
		wg.Go(func() {
			conn, r := w%o.Connections, rec.worker(w)
			if sched != nil {
				openLoop(runCtx, t, conn, sched, r)
			} else {
				closedLoop(runCtx, t, conn, start, warmEnd, end, r)
			}
		})
	}
	wg.Wait()

	res := rec.result(o, warmEnd)
	if sched != nil {
		res.Unsent = max(0, sched.total-sched.warm-res.Requests)
	}
	if desc, ok := t.(fmt.Stringer); ok {
		res.Target = desc.String()
	}
	return res, ctx.Err()
}

// openLoop claims scheduled sends until the schedule or ctx runs out.
func openLoop(ctx context.Context, t Target, conn int, s *schedule, r *recorder) {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		i := s.next.Add(1) - 1
		if i >= s.total {
			return
		}
		due := s.due(i)
		idle := false
		if d := time.Until(due); d > 0 {
			idle = true
			timer.Reset(d)
			select {
			case <-timer.C:
			case <-ctx.Done():
				return
			}
		}
		sent := time.Now()
		if stopped(ctx, sent) {
			return
		}
		err := t.Do(ctx, conn)
		done := time.Now()
		if i < s.warm {
			continue
		}
		from := due // overdue: every worker was busy, so the wait counts
		if idle {
			from = sent
		}
		r.record(done.Sub(from), done.Sub(sent), sent.Sub(due), done, err)
	}
}

// closedLoop sends back to back until end.
func closedLoop(ctx context.Context, t Target, conn int, start, warmEnd, end time.Time, r *recorder) {
	if d := time.Until(start); d > 0 {
		time.Sleep(d)
	}
	for {
		sent := time.Now()
		if !sent.Before(end) || stopped(ctx, sent) {
			return
		}
		err := t.Do(ctx, conn)
		done := time.Now()
		if sent.Before(warmEnd) {
			continue
		}
		r.record(done.Sub(sent), done.Sub(sent), 0, done, err)
	}
}

// stopped reports whether ctx is done or its deadline has passed at now. The
// clock check matters because connection deadlines set from ctx can fire
// before ctx's own timer does.
func stopped(ctx context.Context, now time.Time) bool {
	if ctx.Err() != nil {
		return true
	}
	d, ok := ctx.Deadline()
	return ok && !now.Before(d)
}
