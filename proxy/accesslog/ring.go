package accesslog

import (
	"bytes"
	"errors"
	"io"
	"sync"

	"github.com/rs/zerolog"
)

// DefaultSize is the number of lines a ring keeps by default.
const DefaultSize = 10000

// ErrTooManyFollowers is returned by Follow when the ring already has its
// maximum of followers.
var ErrTooManyFollowers = errors.New("accesslog: too many followers")

// maxFollowers bounds concurrent followers, and so the memory their
// queues may hold.
const maxFollowers = 16

// Ring keeps the last lines written to it and streams new ones to
// followers. It is safe for concurrent use.
type Ring struct {
	mu        sync.Mutex
	lines     [][]byte // circular, len(lines) == size once full
	next      int      // where the next line goes once full
	followers map[*Follower]struct{}
}

// NewRing returns a ring keeping the last size lines (size ≤ 0: DefaultSize).
func NewRing(size int) *Ring {
	if size <= 0 {
		size = DefaultSize
	}
	return &Ring{lines: make([][]byte, 0, size), followers: map[*Follower]struct{}{}}
}

var _ io.Writer = (*Ring)(nil)

// Write stores a copy of one line (zerolog writes one event per call),
// without its trailing newline, and offers it to followers. It never
// blocks and never fails.
func (r *Ring) Write(p []byte) (int, error) {
	line := bytes.Clone(bytes.TrimRight(p, "\n"))
	r.mu.Lock()
	if len(r.lines) < cap(r.lines) {
		r.lines = append(r.lines, line)
	} else {
		r.lines[r.next] = line
		r.next = (r.next + 1) % len(r.lines)
	}
	for f := range r.followers {
		f.offer(line)
	}
	r.mu.Unlock()
	return len(p), nil
}

// Lines returns the kept lines, oldest first. The lines must not be
// modified.
func (r *Ring) Lines() [][]byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.snapshot()
}

func (r *Ring) snapshot() [][]byte {
	out := make([][]byte, 0, len(r.lines))
	out = append(out, r.lines[r.next:]...)
	return append(out, r.lines[:r.next]...)
}

// Follow returns the kept lines and a follower that receives every line
// written after them — no line is missed or repeated between the two —
// with a queue of queue lines (≤ 0: 4096).
func (r *Ring) Follow(queue int) ([][]byte, *Follower, error) {
	if queue <= 0 {
		queue = 4096
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.followers) >= maxFollowers {
		return nil, nil, ErrTooManyFollowers
	}
	f := &Follower{r: r, c: make(chan []byte, queue)}
	r.followers[f] = struct{}{}
	return r.snapshot(), f, nil
}

// Follower receives new lines until closed.
type Follower struct {
	r       *Ring
	c       chan []byte
	dropped int64 // guarded by r.mu
	once    sync.Once
}

// offer queues line or counts it dropped; r.mu is held.
func (f *Follower) offer(line []byte) {
	select {
	case f.c <- line:
	default:
		f.dropped++
	}
}

// Lines delivers the new lines. They must not be modified.
func (f *Follower) Lines() <-chan []byte { return f.c }

// TakeDropped returns how many lines were dropped for a full queue since
// the last call.
func (f *Follower) TakeDropped() int64 {
	f.r.mu.Lock()
	defer f.r.mu.Unlock()
	n := f.dropped
	f.dropped = 0
	return n
}

// Close stops the follower.
func (f *Follower) Close() {
	f.once.Do(func() {
		f.r.mu.Lock()
		delete(f.r.followers, f)
		f.r.mu.Unlock()
	})
}

// Tee returns the writer for the access logger: every line goes to ring,
// and to out when enabled(level) says the log level lets it through (the
// ring keeps access lines whatever the level).
func Tee(out io.Writer, enabled func(zerolog.Level) bool, ring *Ring) zerolog.LevelWriter {
	return tee{out: out, enabled: enabled, ring: ring}
}

type tee struct {
	out     io.Writer
	enabled func(zerolog.Level) bool
	ring    *Ring
}

func (t tee) Write(p []byte) (int, error) {
	t.ring.Write(p) //nolint:errcheck // never fails
	return t.out.Write(p)
}

func (t tee) WriteLevel(l zerolog.Level, p []byte) (int, error) {
	t.ring.Write(p) //nolint:errcheck // never fails
	if t.enabled != nil && !t.enabled(l) {
		return len(p), nil
	}
	return t.out.Write(p)
}
