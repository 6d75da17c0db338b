package trace

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// batchOptions shape a batcher; zero values take the defaults.
type batchOptions struct {
	QueueSize int           // 2048 items waiting at most
	BatchSize int           // 512 items per export at most
	Interval  time.Duration // 1s: a partial batch waits no longer
	Timeout   time.Duration // 5s: bound on one export attempt
	// Attempts is how often a batch is tried before it is dropped: a
	// second attempt, on a fresh connection, gets over a lost packet.
	Attempts int // 2
	Exported prometheus.Counter
	Dropped  prometheus.Counter
	// OnError learns of each failed export and how many items it lost.
	OnError func(err error, lost int)
}

func (o *batchOptions) fill() {
	if o.QueueSize <= 0 {
		o.QueueSize = 2048
	}
	if o.BatchSize <= 0 {
		o.BatchSize = 512
	}
	o.BatchSize = min(o.BatchSize, o.QueueSize)
	if o.Interval <= 0 {
		o.Interval = time.Second
	}
	if o.Timeout <= 0 {
		o.Timeout = 5 * time.Second
	}
	if o.Attempts <= 0 {
		o.Attempts = 2
	}
	if o.Exported == nil {
		o.Exported = prometheus.NewCounter(prometheus.CounterOpts{Name: "unused"})
	}
	if o.Dropped == nil {
		o.Dropped = prometheus.NewCounter(prometheus.CounterOpts{Name: "unused"})
	}
	if o.OnError == nil {
		o.OnError = func(error, int) {}
	}
}

// batcher queues items and exports them in batches from one goroutine.
// Offering never blocks: an item that finds the queue full is dropped and
// counted, so a slow or absent collector costs the request path nothing
// but the drop.
type batcher[T any] struct {
	o      batchOptions
	export func(context.Context, []T) error
	queue  chan T
	flushc chan chan struct{}
	stopc  chan context.Context
	done   chan struct{}

	stopped  atomic.Bool
	stopOnce sync.Once
}

// newBatcher starts the export goroutine; shutdown ends it.
func newBatcher[T any](o batchOptions, export func(context.Context, []T) error) *batcher[T] {
	o.fill()
	b := &batcher[T]{o: o, export: export, queue: make(chan T, o.QueueSize),
		flushc: make(chan chan struct{}), stopc: make(chan context.Context, 1), done: make(chan struct{})}
	go b.run()
	return b
}

// offer queues v, or drops it when the queue is full or the batcher has
// stopped.
func (b *batcher[T]) offer(v T) {
	if b.stopped.Load() {
		b.o.Dropped.Inc()
		return
	}
	select {
	case b.queue <- v:
	default:
		b.o.Dropped.Inc()
	}
}

func (b *batcher[T]) run() {
	defer close(b.done)
	tick := time.NewTicker(b.o.Interval)
	defer tick.Stop()
	batch := make([]T, 0, b.o.BatchSize)
	send := func(ctx context.Context) {
		if len(batch) > 0 {
			b.send(ctx, batch)
			clear(batch)
			batch = batch[:0]
		}
	}
	// drain exports everything queued now.
	drain := func(ctx context.Context) {
		for {
			select {
			case v := <-b.queue:
				batch = append(batch, v)
				if len(batch) == b.o.BatchSize {
					send(ctx)
				}
			default:
				send(ctx)
				return
			}
		}
	}
	for {
		select {
		case v := <-b.queue:
			batch = append(batch, v)
			if len(batch) == b.o.BatchSize {
				send(context.Background())
			}
		case <-tick.C:
			send(context.Background())
		case ack := <-b.flushc:
			drain(context.Background())
			close(ack)
		case ctx := <-b.stopc:
			drain(ctx)
			for { // offered while the drain ran: lost
				select {
				case <-b.queue:
					b.o.Dropped.Inc()
				default:
					return
				}
			}
		}
	}
}

// send exports one batch, each attempt within the export timeout (and
// all within ctx).
func (b *batcher[T]) send(ctx context.Context, batch []T) {
	n := len(batch)
	var err error
	for range b.o.Attempts {
		if ctx.Err() != nil {
			break
		}
		if err = b.attempt(ctx, batch); err == nil {
			b.o.Exported.Add(float64(n))
			return
		}
	}
	b.o.Dropped.Add(float64(n))
	if err != nil {
		b.o.OnError(err, n)
	}
}

func (b *batcher[T]) attempt(ctx context.Context, batch []T) error {
	ctx, cancel := context.WithTimeout(ctx, b.o.Timeout)
	defer cancel()
	return b.export(ctx, batch)
}

// forceFlush exports what is queued and waits for it, or for ctx.
func (b *batcher[T]) forceFlush(ctx context.Context) error {
	if b.stopped.Load() {
		return nil
	}
	ack := make(chan struct{})
	select {
	case b.flushc <- ack:
	case <-b.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-ack:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// shutdown exports what is queued within ctx, then stops. Items offered
// later are dropped.
func (b *batcher[T]) shutdown(ctx context.Context) error {
	b.stopOnce.Do(func() {
		b.stopped.Store(true)
		b.stopc <- ctx
	})
	select {
	case <-b.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
