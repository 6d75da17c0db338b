package measure

import (
	"context"
	"slices"
	"sync"
	"time"
)

// GCMetric counts a Go process's completed GC cycles.
const GCMetric = "go_gc_duration_seconds_count"

// DetectMetric and DetectTimeout select meshlite-proxy's count of
// connections whose protocol detection ran into its timeout.
const (
	DetectMetric  = "protocol_detect_total"
	DetectTimeout = `result="timeout"`
)

// sampleEvery is how often a Monitor samples RSS.
const sampleEvery = 250 * time.Millisecond

// Target is one process group to watch.
type Target struct {
	// PGID is the process group (the PID of a netenv.Proc).
	PGID int
	// MetricsURL, if set, is scraped for GCMetric.
	MetricsURL string
}

// Usage is what one process group cost over a Monitor's span.
type Usage struct {
	// RSSSteady is the median of the RSS samples, in bytes.
	RSSSteady int64 `json:"rss_steady_bytes"`
	// RSSPeak is VmHWM at the end (reset at the start), in bytes.
	RSSPeak int64 `json:"rss_peak_bytes"`
	// AnonSteady is the median of the RssAnon samples (heap and stacks,
	// without the executable's file pages), in bytes.
	AnonSteady int64 `json:"anon_steady_bytes"`
	// CPUSeconds is utime+stime spent over the span.
	CPUSeconds float64 `json:"cpu_seconds"`
	// GCCycles is the number of GC cycles over the span, -1 when unknown.
	GCCycles float64 `json:"gc_cycles"`
	// DetectTimeouts is the number of connections whose protocol
	// detection timed out over the span (meshlite), -1 when unknown.
	DetectTimeouts float64 `json:"detect_timeouts"`
	// Samples is how many RSS samples were taken.
	Samples int `json:"samples"`
	// Err is the first measurement problem, if any.
	Err string `json:"error,omitempty"`
}

// Monitor samples a process group from Start to Stop.
type Monitor struct {
	t      Target
	start  Sample
	gc0    float64
	gcOK   bool
	dt0    float64
	dtOK   bool
	cancel context.CancelFunc
	done   chan struct{}

	mu   sync.Mutex
	rss  []int64
	anon []int64
	errs []error
}

// Start resets the group's peak RSS, reads its CPU time and GC count, and
// samples RSS in the background until Stop.
func Start(ctx context.Context, t Target) (*Monitor, error) {
	if err := ResetPeak(t.PGID); err != nil {
		return nil, err
	}
	s, err := SampleGroup(t.PGID)
	if err != nil {
		return nil, err
	}
	m := &Monitor{t: t, start: s, done: make(chan struct{}), rss: []int64{s.RSS}, anon: []int64{s.Anon}}
	if t.MetricsURL != "" {
		if v, err := Scrape(ctx, t.MetricsURL, GCMetric); err == nil {
			m.gc0, m.gcOK = v, true
		} else {
			m.errs = append(m.errs, err)
		}
		if v, err := Scrape(ctx, t.MetricsURL, DetectMetric, DetectTimeout); err == nil {
			m.dt0, m.dtOK = v, true
		}
	}
	sctx, cancel := context.WithCancel(ctx)
	m.cancel = cancel
	go m.loop(sctx)
	return m, nil
}

func (m *Monitor) loop(ctx context.Context) {
	defer close(m.done)
	tick := time.NewTicker(sampleEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			s, err := SampleGroup(m.t.PGID)
			m.mu.Lock()
			if err != nil {
				m.errs = append(m.errs, err)
			} else {
				m.rss = append(m.rss, s.RSS)
				m.anon = append(m.anon, s.Anon)
			}
			m.mu.Unlock()
		}
	}
}

// Stop ends sampling and returns the usage over the span.
func (m *Monitor) Stop(ctx context.Context) Usage {
	m.cancel()
	<-m.done
	u := Usage{GCCycles: -1, DetectTimeouts: -1}
	end, err := SampleGroup(m.t.PGID)
	m.mu.Lock()
	defer m.mu.Unlock()
	if err != nil {
		m.errs = append(m.errs, err)
	} else {
		m.rss = append(m.rss, end.RSS)
		m.anon = append(m.anon, end.Anon)
		u.RSSPeak = end.HWM
		u.CPUSeconds = float64(end.CPUTicks-min(end.CPUTicks, m.start.CPUTicks)) / clockTicks
	}
	if m.gcOK {
		if v, err := Scrape(ctx, m.t.MetricsURL, GCMetric); err == nil {
			u.GCCycles = v - m.gc0
		} else {
			m.errs = append(m.errs, err)
		}
	}
	if m.dtOK {
		if v, err := Scrape(ctx, m.t.MetricsURL, DetectMetric, DetectTimeout); err == nil {
			u.DetectTimeouts = v - m.dt0
		}
	}
	u.Samples = len(m.rss)
	u.RSSSteady = medianInt(m.rss)
	u.AnonSteady = medianInt(m.anon)
	if len(m.errs) > 0 {
		u.Err = m.errs[0].Error()
	}
	return u
}

func medianInt(v []int64) int64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// Idle reads a process group's RSS once, with no load: VmRSS now and
// VmHWM since start (or the last reset).
func Idle(pgid int) (Usage, error) {
	s, err := SampleGroup(pgid)
	if err != nil {
		return Usage{}, err
	}
	return Usage{RSSSteady: s.RSS, RSSPeak: s.HWM, AnonSteady: s.Anon, GCCycles: -1, DetectTimeouts: -1, Samples: 1}, nil
}
