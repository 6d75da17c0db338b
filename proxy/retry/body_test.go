package retry

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
)

type closeCounter struct {
	io.Reader
	closed int
}

func (c *closeCounter) Close() error { c.closed++; return nil }

func TestReplayWholeBody(t *testing.T) {
	src := &closeCounter{Reader: strings.NewReader("hello, world")}
	b := NewReplayableBody(src, 64)
	for i := range 3 {
		r, ok := b.Attempt()
		if !ok {
			t.Fatalf("attempt %d not replayable", i)
		}
		got, err := io.ReadAll(r)
		if err != nil || string(got) != "hello, world" {
			t.Fatalf("attempt %d read %q, %v", i, got, err)
		}
		r.Close()
	}
	if src.closed != 0 {
		t.Fatal("an attempt closed the underlying body")
	}
	b.Close()
	b.Close()
	if src.closed != 1 {
		t.Fatalf("underlying body closed %d times, want 1", src.closed)
	}
}

func TestReplayAfterPartialRead(t *testing.T) {
	b := NewReplayableBody(io.NopCloser(iotest.OneByteReader(strings.NewReader("abcdef"))), 64)
	r1, _ := b.Attempt()
	p := make([]byte, 2)
	io.ReadFull(r1, p) // the first attempt failed after 2 bytes
	r2, ok := b.Attempt()
	if !ok {
		t.Fatal("not replayable")
	}
	if _, err := r1.Read(p); !errors.Is(err, ErrReplaced) {
		t.Fatalf("stale reader: %v, want ErrReplaced", err)
	}
	got, err := io.ReadAll(r2)
	if err != nil || string(got) != "abcdef" {
		t.Fatalf("replay read %q, %v", got, err)
	}
}

func TestOverflowStopsReplay(t *testing.T) {
	b := NewReplayableBody(io.NopCloser(strings.NewReader(strings.Repeat("x", 100))), 10)
	r, _ := b.Attempt()
	got, err := io.ReadAll(r)
	if err != nil || len(got) != 100 {
		t.Fatalf("first attempt read %d bytes, %v: the body must stream past the bound", len(got), err)
	}
	if b.Replayable() {
		t.Fatal("replayable past the bound")
	}
	if _, ok := b.Attempt(); ok {
		t.Fatal("Attempt succeeded past the bound")
	}
}

func TestOverflowAfterNewAttempt(t *testing.T) {
	// An old reader pushes the body past the bound after a newer attempt
	// started: the newer one must fail rather than skip bytes.
	b := NewReplayableBody(io.NopCloser(strings.NewReader(strings.Repeat("y", 30))), 10)
	r1, _ := b.Attempt()
	r2, _ := b.Attempt()
	if _, err := r1.Read(make([]byte, 5)); !errors.Is(err, ErrReplaced) {
		t.Fatalf("stale reader: %v", err)
	}
	got, err := io.ReadAll(r2)
	if err != nil || len(got) != 30 {
		t.Fatalf("current reader read %d, %v", len(got), err)
	}
	b2 := NewReplayableBody(io.NopCloser(strings.NewReader(strings.Repeat("z", 30))), 10)
	a1, _ := b2.Attempt()
	io.ReadAll(a1)
	if _, ok := b2.Attempt(); ok {
		t.Fatal("replay after overflow")
	}
}

func TestNilBody(t *testing.T) {
	b := NewReplayableBody(nil, 0)
	for range 2 {
		r, ok := b.Attempt()
		if !ok {
			t.Fatal("nil body not replayable")
		}
		if n, err := r.Read(make([]byte, 4)); n != 0 || err != io.EOF {
			t.Fatalf("nil body read %d, %v", n, err)
		}
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestErrorIsReplayed(t *testing.T) {
	boom := errors.New("client went away")
	b := NewReplayableBody(io.NopCloser(io.MultiReader(strings.NewReader("ab"), iotest.ErrReader(boom))), 64)
	r1, _ := b.Attempt()
	if _, err := io.ReadAll(r1); !errors.Is(err, boom) {
		t.Fatalf("first attempt: %v", err)
	}
	r2, _ := b.Attempt()
	got, err := io.ReadAll(r2)
	if string(got) != "ab" || !errors.Is(err, boom) {
		t.Fatalf("replay: %q, %v", got, err)
	}
}

func TestReadAfterClose(t *testing.T) {
	b := NewReplayableBody(io.NopCloser(strings.NewReader("abc")), 64)
	r, _ := b.Attempt()
	b.Close()
	if _, err := r.Read(make([]byte, 1)); !errors.Is(err, ErrReplaced) {
		t.Fatalf("read after close: %v", err)
	}
}

// blockingReader blocks in Read until released, like a slow client.
type blockingReader struct {
	started chan struct{}
	release chan struct{}
	data    []byte
}

func (r *blockingReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, io.EOF
	}
	close(r.started)
	<-r.release
	n := copy(p, r.data)
	r.data = r.data[n:]
	return n, nil
}

func TestNewAttemptWhileOldReads(t *testing.T) {
	src := &blockingReader{started: make(chan struct{}), release: make(chan struct{}), data: []byte("payload")}
	b := NewReplayableBody(io.NopCloser(src), 64)
	r1, _ := b.Attempt()
	var wg sync.WaitGroup
	wg.Go(func() {
		if _, err := r1.Read(make([]byte, 64)); !errors.Is(err, ErrReplaced) {
			t.Errorf("old reader: %v, want ErrReplaced", err)
		}
	})
	<-src.started
	r2, ok := b.Attempt() // must not block on the old reader's Read
	if !ok {
		t.Fatal("not replayable")
	}
	close(src.release)
	got, err := io.ReadAll(r2)
	wg.Wait()
	if err != nil || string(got) != "payload" {
		t.Fatalf("new attempt read %q, %v", got, err)
	}
}

// FuzzReplayableBody checks that every attempt reads exactly the body,
// whatever the read sizes and however far earlier attempts got.
func FuzzReplayableBody(f *testing.F) {
	f.Add([]byte("hello"), []byte{1, 2, 3}, uint8(3))
	f.Add(bytes.Repeat([]byte("a"), 300), []byte{7, 0, 255}, uint8(4))
	f.Fuzz(func(t *testing.T, body, sizes []byte, attempts uint8) {
		b := NewReplayableBody(io.NopCloser(bytes.NewReader(body)), 256)
		k := 0
		next := func() int {
			if len(sizes) == 0 {
				return 16
			}
			k++
			return int(sizes[k%len(sizes)]) + 1
		}
		for a := 0; a < int(attempts%5)+1; a++ {
			r, ok := b.Attempt()
			if !ok {
				if len(body) <= 256 {
					t.Fatalf("attempt %d refused for a %d-byte body", a, len(body))
				}
				return
			}
			last := a == int(attempts%5)
			limit := len(body)
			if !last && len(sizes) > 0 {
				limit = int(sizes[0]) % (len(body) + 1) // a failed attempt reads a prefix
			}
			var got []byte
			for len(got) < limit {
				p := make([]byte, min(next(), limit-len(got)))
				n, err := r.Read(p)
				got = append(got, p[:n]...)
				if err == io.EOF {
					break
				}
				if errors.Is(err, ErrNotReplayable) {
					return
				}
				if err != nil {
					t.Fatalf("attempt %d: %v", a, err)
				}
			}
			if !bytes.Equal(got, body[:len(got)]) {
				t.Fatalf("attempt %d read %q, want a prefix of %q", a, got, body)
			}
			if last && len(got) != len(body) {
				t.Fatalf("last attempt read %d of %d bytes", len(got), len(body))
			}
		}
	})
}
