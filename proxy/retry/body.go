package retry

import (
	"io"
	"sync"
)

// ReplayableBody lets a request body be sent again: it passes the body
// through to the first attempt while keeping a copy of what was read, up
// to a bound, and gives each later attempt a reader that replays the copy
// and then goes on reading the body where the earlier attempts stopped.
// Once more than the bound has been read, the copy is dropped and the body
// is no longer replayable.
//
// A transport may go on reading (or close) an attempt's body after its
// RoundTrip returned; a newer attempt's reader takes over and the older
// one fails with ErrReplaced, while everything it read stays in the copy.
// Closing an attempt's reader does not close the underlying body: Close
// the ReplayableBody when the request is done.
type ReplayableBody struct {
	mu      sync.Mutex
	cond    sync.Cond // signalled when a read of src ends
	src     io.ReadCloser
	max     int
	buf     []byte
	total   int   // bytes read from src
	over    bool  // more than max was read: buf dropped
	reading bool  // a reader is in src.Read
	err     error // src's terminal error (io.EOF at the end)
	gen     int   // the current attempt
	closed  bool
}

// NewReplayableBody wraps body (which may be nil or http.NoBody),
// keeping up to max bytes for replay (DefaultMaxBody when max <= 0).
func NewReplayableBody(body io.ReadCloser, max int) *ReplayableBody {
	if max <= 0 {
		max = DefaultMaxBody
	}
	b := &ReplayableBody{src: body, max: max}
	if body == nil {
		b.err = io.EOF
	}
	b.cond.L = &b.mu
	return b
}

// Attempt returns a reader of the whole body for a new attempt, and
// whether the body could be replayed. The first call always succeeds.
// Earlier attempts' readers stop working.
func (b *ReplayableBody) Attempt() (io.ReadCloser, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.gen > 0 && b.over {
		return nil, false
	}
	b.gen++
	return &attemptReader{b: b, gen: b.gen}, true
}

// Replayable reports whether another attempt could replay the body: it
// has not grown past the bound.
func (b *ReplayableBody) Replayable() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return !b.over
}

// Close closes the underlying body. Readers fail afterwards.
func (b *ReplayableBody) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil
	}
	b.closed = true
	b.gen++ // every reader is stale
	if b.src != nil {
		return b.src.Close()
	}
	return nil
}

type attemptReader struct {
	b   *ReplayableBody
	gen int
	pos int // bytes of the body this reader has returned
}

func (r *attemptReader) Read(p []byte) (int, error) {
	b := r.b
	b.mu.Lock()
	defer b.mu.Unlock()
	for b.reading && b.gen == r.gen {
		b.cond.Wait()
	}
	if b.gen != r.gen {
		return 0, ErrReplaced
	}
	if r.pos < b.total {
		if b.over {
			return 0, ErrNotReplayable
		}
		n := copy(p, b.buf[r.pos:])
		r.pos += n
		return n, nil
	}
	if b.err != nil {
		return 0, b.err
	}
	if len(p) == 0 {
		return 0, nil
	}
	b.reading = true
	b.mu.Unlock()
	n, err := b.src.Read(p)
	b.mu.Lock()
	b.reading = false
	b.cond.Broadcast()
	b.total += n
	if n > 0 && !b.over {
		if len(b.buf)+n > b.max {
			b.over, b.buf = true, nil
		} else {
			b.buf = append(b.buf, p[:n]...)
		}
	}
	if err != nil {
		b.err = err
	}
	if b.gen != r.gen {
		// A newer attempt took over while we read; what we read is in
		// the copy (or the body is no longer replayable).
		return 0, ErrReplaced
	}
	r.pos += n
	return n, err
}

// Close ends this attempt's use of the body without closing it.
func (r *attemptReader) Close() error { return nil }
