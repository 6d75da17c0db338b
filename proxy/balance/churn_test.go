package balance

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// window is the endpoint set of update k: endpoints k to k+4, port 1000+i,
// with weights that change from update to update. An endpoint once removed
// never comes back, so a pick of endpoint i < k after update k returned is
// a pick of a removed endpoint.
func window(k int) []Endpoint {
	out := make([]Endpoint, 5)
	for j := range out {
		i := k + j
		out[j] = Endpoint{Addr: addr(uint16(1000 + i)), Weight: uint32((i*7+k)%4 + 1)}
	}
	return out
}

func TestChurn(t *testing.T) {
	const updates, pickers = 1000, 4
	eachKind := func(t *testing.T, b Balancer) {
		b.Update(window(0))
		var gen atomic.Int64 // last update that has returned
		var stop atomic.Bool
		var picks atomic.Int64
		var wg sync.WaitGroup
		for g := range pickers {
			wg.Go(func() {
				var held [8]Pick // Done comes late, often after removal
				defer func() {
					for _, p := range held {
						p.Done(Result{})
					}
				}()
				for i := 0; !stop.Load(); i++ {
					k := gen.Load()
					p, err := b.Pick(context.Background())
					if err != nil {
						t.Errorf("Pick: %v", err)
						return
					}
					if i := int64(p.Endpoint().Addr.Port()) - 1000; i < k {
						t.Errorf("picked endpoint %d, removed by update %d which had returned", i, k)
						return
					}
					r := Result{Latency: time.Duration(1+(i+g)%20) * time.Millisecond}
					if i%5 == 0 {
						r.Err = errRefused
					}
					held[i%len(held)].Done(r)
					held[i%len(held)] = p
					if picks.Add(1)%64 == 0 {
						runtime.Gosched() // give the updater its turn
					}
				}
			})
		}
		for k := 1; k <= updates; k++ {
			b.Update(window(k))
			gen.Store(int64(k))
			if k%10 == 0 { // let the pickers run between bursts of updates
				for n := picks.Load(); picks.Load() < n+100 && !t.Failed(); {
					runtime.Gosched()
				}
			}
		}
		stop.Store(true)
		wg.Wait()
	}
	for _, kind := range allKinds {
		for _, accrual := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/accrual=%v", kind, accrual), func(t *testing.T) {
				b, err := New(kind, Options{
					NoFailureAccrual: !accrual,
					Accrual:          AccrualOptions{Failures: 2, MinBackoff: time.Microsecond, MaxBackoff: 10 * time.Microsecond},
				})
				if err != nil {
					t.Fatal(err)
				}
				eachKind(t, b)
			})
		}
	}
}
