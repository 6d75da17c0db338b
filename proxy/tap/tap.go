// Package tap streams the proxy's live request events to watchers
// (meshctl top), without slowing the request path.
//
// Publishing costs one atomic load when nobody watches. Each watcher has a
// bounded queue and a rate limit (events beyond either are dropped and
// counted, never waited for), so a slow or greedy watcher cannot hold back
// requests or grow memory.
package tap

import (
	"encoding/json"
	"sync"
	"sync/atomic"
	"time"
)

// Event is one finished HTTP request (or TCP connection) as the proxy saw
// it.
type Event struct {
	Time      time.Time `json:"time"`
	Direction string    `json:"direction"`
	Kind      string    `json:"kind"` // "http" or "tcp"
	// Client is the peer address; ClientID its SPIFFE ID over mutual TLS.
	Client   string `json:"client"`
	ClientID string `json:"client_id,omitempty"`
	// Authority, Dst (original destination), Endpoint (where it was sent)
	// and ServerID (the endpoint's SPIFFE ID over mutual TLS).
	Authority string  `json:"authority,omitempty"`
	Dst       string  `json:"dst,omitempty"`
	Endpoint  string  `json:"endpoint,omitempty"`
	ServerID  string  `json:"server_id,omitempty"`
	TLS       bool    `json:"tls"`
	Method    string  `json:"method,omitempty"`
	Path      string  `json:"path,omitempty"`
	Route     string  `json:"route,omitempty"`
	Status    int     `json:"status"`
	GRPC      string  `json:"grpc_status,omitempty"`
	LatencyMs float64 `json:"latency_ms"`
	Success   bool    `json:"success"`
}

// Hub fans events out to watchers.
type Hub struct {
	watching atomic.Int32
	mu       sync.Mutex
	watchers map[*Watcher]struct{}
	dropped  atomic.Int64
}

// NewHub returns an empty hub.
func NewHub() *Hub { return &Hub{watchers: map[*Watcher]struct{}{}} }

// Active reports whether anyone watches: callers skip building events
// when nobody does.
func (h *Hub) Active() bool { return h.watching.Load() > 0 }

// Dropped is the number of events dropped for full queues or rate limits.
func (h *Hub) Dropped() int64 { return h.dropped.Load() }

// Publish offers e to every watcher; it never blocks.
func (h *Hub) Publish(e Event) {
	if !h.Active() {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for w := range h.watchers {
		if !w.allow(e.Time) {
			h.dropped.Add(1)
			continue
		}
		select {
		case w.c <- e:
		default:
			h.dropped.Add(1)
		}
	}
}

// Watcher receives events until closed.
type Watcher struct {
	h     *Hub
	c     chan Event
	rate  float64 // events per second
	mu    sync.Mutex
	level float64 // tokens
	last  time.Time
	once  sync.Once
}

// Watch adds a watcher with a queue of size events and a limit of rate
// events per second (bursts up to one second's worth).
func (h *Hub) Watch(size int, rate float64) *Watcher {
	w := &Watcher{h: h, c: make(chan Event, size), rate: rate, level: rate}
	h.mu.Lock()
	h.watchers[w] = struct{}{}
	h.mu.Unlock()
	h.watching.Add(1)
	return w
}

// Events delivers the events.
func (w *Watcher) Events() <-chan Event { return w.c }

// Close removes the watcher.
func (w *Watcher) Close() {
	w.once.Do(func() {
		w.h.mu.Lock()
		delete(w.h.watchers, w)
		w.h.mu.Unlock()
		w.h.watching.Add(-1)
	})
}

// allow is a token bucket refilled at rate per second, holding at most
// one second's worth.
func (w *Watcher) allow(now time.Time) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.last.IsZero() {
		w.level = min(w.rate, w.level+now.Sub(w.last).Seconds()*w.rate)
	}
	w.last = now
	if w.level < 1 {
		return false
	}
	w.level--
	return true
}

// MarshalLine renders e as one line of newline-delimited JSON.
func (e Event) MarshalLine() ([]byte, error) {
	b, err := json.Marshal(e)
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}
