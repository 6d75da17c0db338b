package discovery

import (
	"context"
	"net/netip"
	"sync"
	"time"
)

// HealthReporterConfig configures a HealthReporter; the comment gives the
// default.
type HealthReporterConfig struct {
	// Delay gathers the observations of a burst into one report.
	Delay time.Duration // 200ms
	// Timeout bounds one ReportHealth call.
	Timeout time.Duration // 2s
	// MaxPending bounds the addresses waiting to be reported; an
	// observation of a new address beyond it is dropped (and counted).
	MaxPending int // 1024, the service's limit per report
	// OnReport, when set, is told of each report's outcome: how many
	// observations it carried, and the error if it failed.
	OnReport func(n int, err error)
}

// HealthReporter sends the proxy's passive view of endpoints (set aside
// after consecutive connection failures, put back after a successful
// probe) to the destination service, which takes a failing endpoint out of
// every proxy's sets for a while. Observe never blocks: the latest state
// of each address waits in a bounded set, and Run sends it in batches,
// retrying with backoff what a failed call could not deliver.
type HealthReporter struct {
	c    *Client
	cfg  HealthReporterConfig
	kick chan struct{}

	mu      sync.Mutex
	pending map[netip.AddrPort]Observation
	dropped int
}

// HealthReporter returns a reporter that sends through c; Run it.
func (c *Client) HealthReporter(cfg HealthReporterConfig) *HealthReporter {
	if cfg.Delay <= 0 {
		cfg.Delay = 200 * time.Millisecond
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 2 * time.Second
	}
	if cfg.MaxPending <= 0 {
		cfg.MaxPending = 1024
	}
	return &HealthReporter{c: c, cfg: cfg, kick: make(chan struct{}, 1), pending: map[netip.AddrPort]Observation{}}
}

// Observe queues o, replacing what was queued for the same address. It
// returns at once.
func (h *HealthReporter) Observe(o Observation) {
	o.Addr = netip.AddrPortFrom(o.Addr.Addr().Unmap(), o.Addr.Port())
	h.mu.Lock()
	if _, ok := h.pending[o.Addr]; ok || len(h.pending) < h.cfg.MaxPending {
		h.pending[o.Addr] = o
	} else {
		h.dropped++
	}
	h.mu.Unlock()
	select {
	case h.kick <- struct{}{}:
	default:
	}
}

// Dropped is how many observations found the pending set full.
func (h *HealthReporter) Dropped() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.dropped
}

// Run sends what Observe queues until ctx is done, then returns nil.
// Observations a failed call could not deliver are sent again, after a
// backoff, unless newer ones of the same address replaced them.
func (h *HealthReporter) Run(ctx context.Context) error {
	log := h.c.cfg.Log
	attempt := 0
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-h.kick:
		}
		// Gather the rest of the burst.
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(h.cfg.Delay):
		}
		batch := h.take()
		if len(batch) == 0 {
			continue
		}
		cctx, cancel := context.WithTimeout(ctx, h.cfg.Timeout)
		err := h.c.ReportHealth(cctx, batch)
		cancel()
		if h.cfg.OnReport != nil {
			h.cfg.OnReport(len(batch), err)
		}
		if err == nil {
			attempt = 0
			for _, o := range batch {
				log.Info().Str("endpoint", o.Addr.String()).Bool("healthy", o.Healthy).Str("reason", o.Reason).
					Msg("reported endpoint health to the destination service")
			}
			continue
		}
		if ctx.Err() != nil {
			return nil
		}
		attempt++
		wait := h.c.backoff(attempt)
		log.Warn().Err(err).Int("observations", len(batch)).Dur("retry_in", wait).Msg("health report failed")
		h.putBack(batch)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
		select {
		case h.kick <- struct{}{}:
		default:
		}
	}
}

// take empties the pending set.
func (h *HealthReporter) take() []Observation {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]Observation, 0, len(h.pending))
	for _, o := range h.pending {
		out = append(out, o)
	}
	clear(h.pending)
	return out
}

// putBack queues batch again, except where a newer observation of the same
// address arrived meanwhile.
func (h *HealthReporter) putBack(batch []Observation) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, o := range batch {
		if _, newer := h.pending[o.Addr]; !newer && len(h.pending) < h.cfg.MaxPending {
			h.pending[o.Addr] = o
		}
	}
}
