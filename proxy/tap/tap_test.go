package tap

import (
	"testing"
	"time"
)

func TestHub(t *testing.T) {
	h := NewHub()
	h.Publish(Event{Path: "/nobody"}) // no watcher: nothing happens
	if h.Active() || h.Dropped() != 0 {
		t.Fatal("idle hub not idle")
	}
	w := h.Watch(2, 1000)
	now := time.Unix(100, 0)
	for i := range 5 {
		h.Publish(Event{Time: now, Status: 200 + i})
	}
	if got := len(w.Events()); got != 2 {
		t.Fatalf("queued %d events, want the queue's 2", got)
	}
	if h.Dropped() != 3 {
		t.Fatalf("dropped %d, want 3", h.Dropped())
	}
	e := <-w.Events()
	if e.Status != 200 {
		t.Fatalf("first event %+v", e)
	}
	w.Close()
	w.Close()
	if h.Active() {
		t.Fatal("closed watcher still counted")
	}
}

func TestRateLimit(t *testing.T) {
	h := NewHub()
	w := h.Watch(10000, 100) // 100 events/s
	defer w.Close()
	start := time.Unix(100, 0)
	for i := range 1000 { // 1,000 events over 1 s
		h.Publish(Event{Time: start.Add(time.Duration(i) * time.Millisecond)})
	}
	if n := len(w.Events()); n < 190 || n > 210 {
		t.Fatalf("passed %d events in 1 s at 100/s with a 1 s burst, want about 200", n)
	}
}
