package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"io"
	"math/rand/v2"
	"net/http"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"
)

const (
	// largeBody is the size of the bodies streamed through the proxy.
	largeBody = 100 << 20
	// heapLimit bounds the process's heap in use while they stream.
	heapLimit = 64 << 20
)

// genReader yields n pseudo-random bytes from a seeded ChaCha8 stream,
// hashing them as they go.
type genReader struct {
	rng  *rand.ChaCha8
	left int64
	sum  hash.Hash
}

func newGen(seed byte, n int64) *genReader {
	return &genReader{rng: rand.NewChaCha8([32]byte{seed}), left: n, sum: sha256.New()}
}

func (g *genReader) Read(p []byte) (int, error) {
	if g.left == 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > g.left {
		p = p[:g.left]
	}
	g.rng.Read(p) //nolint:errcheck // never fails
	g.sum.Write(p)
	g.left -= int64(len(p))
	return len(p), nil
}

func (g *genReader) hexSum() string { return hex.EncodeToString(g.sum.Sum(nil)) }

// hashCopy reads r to its end through a 32 KiB buffer and returns the byte
// count and SHA-256 of what it read.
func hashCopy(w io.Writer, r io.Reader) (int64, string, error) {
	h := sha256.New()
	n, err := io.CopyBuffer(io.MultiWriter(w, h), r, make([]byte, 32<<10))
	return n, hex.EncodeToString(h.Sum(nil)), err
}

// heapSampler records the peak HeapInuse of the process, sampled every
// 50 ms, until stopped.
type heapSampler struct {
	stop chan struct{}
	done sync.WaitGroup
	peak uint64
}

func sampleHeap() *heapSampler {
	runtime.GC()
	s := &heapSampler{stop: make(chan struct{})}
	s.done.Add(1)
	go func() {
		defer s.done.Done()
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			s.peak = max(s.peak, ms.HeapInuse)
			select {
			case <-s.stop:
				return
			case <-tick.C:
			}
		}
	}()
	return s
}

// Peak stops sampling and returns the peak.
func (s *heapSampler) Peak() uint64 {
	close(s.stop)
	s.done.Wait()
	return s.peak
}

// TestLargeBodies streams 100 MiB each way and checks that the proxy holds
// only a bounded window of it: an HTTP/1 chunked upload echoed back, and an
// h2c download. Bodies are generated and verified on the fly.
func TestLargeBodies(t *testing.T) {
	// Not parallel: the heap of the whole test process is sampled.
	t.Run("http1-chunked-upload-echo", func(t *testing.T) {
		be := newBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if err := http.NewResponseController(w).EnableFullDuplex(); err != nil {
				t.Errorf("backend: %v", err)
			}
			if len(r.TransferEncoding) != 1 || r.TransferEncoding[0] != "chunked" {
				t.Errorf("backend: request Transfer-Encoding %v, want chunked", r.TransferEncoding)
			}
			w.Header().Set("Trailer", "X-Body-Sha256")
			w.Header().Set("Content-Type", "application/octet-stream")
			_, sum, err := hashCopy(w, r.Body)
			if err != nil {
				t.Errorf("backend echo: %v", err)
				return
			}
			w.Header().Set("X-Body-Sha256", sum)
		}), false)
		p := startProxy(t, dstFunc(be.Addr))
		client := h1Client(t, p.Out)

		heap := sampleHeap()
		start := time.Now()
		gen := newGen(1, largeBody)
		req, err := http.NewRequest(http.MethodPost, "http://upload.test/echo", io.NopCloser(gen))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := client.Do(req)
		if err != nil {
			heap.Peak()
			t.Fatalf("POST: %v", err)
		}
		n, sum, err := hashCopy(io.Discard, resp.Body)
		resp.Body.Close()
		peak := heap.Peak()
		t.Logf("%d MiB up and back in %v; peak heap in use %.1f MiB", n>>20, time.Since(start).Round(time.Millisecond), float64(peak)/(1<<20))
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("response: %d, %v after %d bytes", resp.StatusCode, err, n)
		}
		if n != largeBody || sum != gen.hexSum() {
			t.Errorf("echoed %d bytes with SHA-256 %s; sent %d with %s", n, sum, largeBody, gen.hexSum())
		}
		if got := resp.Trailer.Get("X-Body-Sha256"); got != gen.hexSum() {
			t.Errorf("backend's trailer X-Body-Sha256 = %q, want %s", got, gen.hexSum())
		}
		if peak > heapLimit {
			t.Errorf("peak heap in use %d MiB while streaming %d MiB, want < %d MiB", peak>>20, largeBody>>20, heapLimit>>20)
		}
	})

	t.Run("h2c-download", func(t *testing.T) {
		be := newBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			gen := newGen(2, largeBody)
			w.Header().Set("Trailer", "X-Body-Sha256")
			w.Header().Set("Content-Length", strconv.Itoa(largeBody))
			if _, err := io.CopyBuffer(w, gen, make([]byte, 32<<10)); err != nil {
				t.Errorf("backend: %v", err)
				return
			}
			w.Header().Set("X-Body-Sha256", gen.hexSum())
		}), true)
		p := startProxy(t, dstFunc(be.Addr))
		client := h2cClient(t, p.Out)

		heap := sampleHeap()
		start := time.Now()
		resp, err := client.Get("http://download.test/big")
		if err != nil {
			heap.Peak()
			t.Fatalf("GET: %v", err)
		}
		n, sum, err := hashCopy(io.Discard, resp.Body)
		resp.Body.Close()
		peak := heap.Peak()
		t.Logf("%d MiB down in %v; peak heap in use %.1f MiB", n>>20, time.Since(start).Round(time.Millisecond), float64(peak)/(1<<20))
		if err != nil || resp.StatusCode != http.StatusOK || resp.ProtoMajor != 2 {
			t.Fatalf("response: %s %d, %v after %d bytes", resp.Proto, resp.StatusCode, err, n)
		}
		want := newGen(2, largeBody)
		io.Copy(io.Discard, want) //nolint:errcheck // never fails
		if n != largeBody || sum != want.hexSum() {
			t.Errorf("received %d bytes with SHA-256 %s; want %d with %s", n, sum, largeBody, want.hexSum())
		}
		if resp.ContentLength != largeBody {
			t.Errorf("Content-Length %d, want %d", resp.ContentLength, largeBody)
		}
		if got := resp.Trailer.Get("X-Body-Sha256"); got != want.hexSum() {
			t.Errorf("backend's trailer X-Body-Sha256 = %q, want %s", got, want.hexSum())
		}
		if peak > heapLimit {
			t.Errorf("peak heap in use %d MiB while streaming %d MiB, want < %d MiB", peak>>20, largeBody>>20, heapLimit>>20)
		}
	})
}
