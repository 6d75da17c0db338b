package accesslog

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/rs/zerolog"
)

func lines(ls [][]byte) string {
	var b strings.Builder
	for _, l := range ls {
		b.Write(l)
		b.WriteByte(' ')
	}
	return strings.TrimSpace(b.String())
}

func TestRingKeepsLast(t *testing.T) {
	r := NewRing(3)
	if got := lines(r.Lines()); got != "" {
		t.Fatalf("empty ring holds %q", got)
	}
	for i := range 5 {
		fmt.Fprintf(r, "%d\n", i)
		want := map[int]string{0: "0", 1: "0 1", 2: "0 1 2", 3: "1 2 3", 4: "2 3 4"}[i]
		if got := lines(r.Lines()); got != want {
			t.Fatalf("after %d writes: %q, want %q", i+1, got, want)
		}
	}
}

func TestRingCopies(t *testing.T) {
	r := NewRing(2)
	buf := []byte("abc\n")
	r.Write(buf)
	copy(buf, "xyz")
	if got := lines(r.Lines()); got != "abc" {
		t.Fatalf("ring kept %q: it must copy what zerolog reuses", got)
	}
}

// TestFollowNoGap: lines written while a follower subscribes show up
// exactly once, in the backlog or in the stream.
func TestFollowNoGap(t *testing.T) {
	r := NewRing(100000)
	const n = 20000
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := range n {
			fmt.Fprintf(r, "%d\n", i)
		}
	}()
	backlog, f, err := r.Follow(n)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	wg.Wait()
	seen := make([]int, 0, n)
	for _, l := range backlog {
		var v int
		fmt.Sscan(string(l), &v)
		seen = append(seen, v)
	}
	for len(seen) < n {
		l := <-f.Lines()
		var v int
		fmt.Sscan(string(l), &v)
		seen = append(seen, v)
	}
	for i, v := range seen {
		if v != i {
			t.Fatalf("line %d is %d: a gap or a repeat around the subscription", i, v)
		}
	}
	if f.TakeDropped() != 0 {
		t.Fatal("dropped lines with a queue large enough")
	}
}

func TestFollowDrops(t *testing.T) {
	r := NewRing(10)
	_, f, err := r.Follow(2)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		fmt.Fprintf(r, "%d\n", i)
	}
	if got := f.TakeDropped(); got != 3 {
		t.Fatalf("dropped %d, want 3", got)
	}
	if got := f.TakeDropped(); got != 0 {
		t.Fatalf("dropped again %d", got)
	}
	if got := string(<-f.Lines()); got != "0" {
		t.Fatalf("first queued line %q", got)
	}
	f.Close()
	f.Close()
	fmt.Fprintf(r, "after\n") // a closed follower is not written to
	if len(f.Lines()) != 1 {
		t.Fatalf("closed follower got lines: %d queued", len(f.Lines()))
	}
}

func TestFollowLimit(t *testing.T) {
	r := NewRing(1)
	var fs []*Follower
	for range maxFollowers {
		_, f, err := r.Follow(1)
		if err != nil {
			t.Fatal(err)
		}
		fs = append(fs, f)
	}
	if _, _, err := r.Follow(1); err != ErrTooManyFollowers {
		t.Fatalf("follower %d: %v, want ErrTooManyFollowers", maxFollowers+1, err)
	}
	fs[0].Close()
	if _, _, err := r.Follow(1); err != nil {
		t.Fatalf("after one left: %v", err)
	}
}

// TestTee: the ring gets every access line; the output only those the
// log level lets through.
func TestTee(t *testing.T) {
	r := NewRing(10)
	var out bytes.Buffer
	level := zerolog.InfoLevel
	log := zerolog.New(Tee(&out, func(l zerolog.Level) bool { return l >= level }, r))
	log.Info().Str("log", "access").Int("n", 1).Send()
	level = zerolog.WarnLevel
	log.Info().Str("log", "access").Int("n", 2).Send()
	if got := lines(r.Lines()); got != `{"level":"info","log":"access","n":1} {"level":"info","log":"access","n":2}` {
		t.Fatalf("ring: %s", got)
	}
	if got := out.String(); got != `{"level":"info","log":"access","n":1}`+"\n" {
		t.Fatalf("output: %q", got)
	}
}
