package balance

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// BenchmarkPick measures Pick plus Done from all Ps at once, for each kind
// bare and as New builds it (inside failure accrual).
func BenchmarkPick(b *testing.B) {
	for _, kind := range allKinds {
		for _, accrual := range []bool{false, true} {
			for _, n := range []int{3, 100} {
				name := fmt.Sprintf("%s/accrual=%v/endpoints=%d", kind, accrual, n)
				b.Run(name, func(b *testing.B) {
					bal, err := New(kind, Options{NoFailureAccrual: !accrual})
					if err != nil {
						b.Fatal(err)
					}
					eps := make([]Endpoint, n)
					for i := range eps {
						eps[i] = Endpoint{Addr: addr(uint16(1000 + i)), Weight: uint32(i%3 + 1)}
					}
					bal.Update(eps)
					ctx := context.Background()
					b.ReportAllocs()
					b.RunParallel(func(pb *testing.PB) {
						for pb.Next() {
							p, err := bal.Pick(ctx)
							if err != nil {
								b.Error(err)
								return
							}
							p.Done(Result{Latency: time.Millisecond})
						}
					})
				})
			}
		}
	}
}
