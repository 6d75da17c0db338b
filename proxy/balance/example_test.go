package balance_test

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	"github.com/meshlite/meshlite/proxy/balance"
)

func ExampleNew() {
	b, err := balance.New("LEAST_CONN", balance.Options{}) // as in an Istio DestinationRule
	if err != nil {
		panic(err)
	}
	b.Update([]balance.Endpoint{
		{Addr: netip.MustParseAddrPort("10.0.0.5:8080")},
		{Addr: netip.MustParseAddrPort("10.0.0.6:8080")},
	})
	first, _ := b.Pick(context.Background())  // one request in flight...
	second, _ := b.Pick(context.Background()) // ...so this one goes to the other endpoint
	fmt.Println(first.Endpoint().Addr != second.Endpoint().Addr)
	first.Done(balance.Result{Latency: 3 * time.Millisecond})
	second.Done(balance.Result{Latency: 4 * time.Millisecond})

	_, err = balance.New("ring-hash", balance.Options{})
	fmt.Println(err)
	// Output:
	// true
	// balance: unknown balancer "ring-hash": want one of peak-ewma, least-request (alias least-conn), round-robin, weighted-round-robin, random
}

func ExampleNewWeightedRoundRobin() {
	b := balance.NewWeightedRoundRobin(balance.Options{})
	b.Update([]balance.Endpoint{{Key: "a", Weight: 5}, {Key: "b", Weight: 1}, {Key: "c", Weight: 1}})
	for range 7 {
		p, _ := b.Pick(context.Background())
		fmt.Print(p.Endpoint().Key, " ")
		p.Done(balance.Result{})
	}
	fmt.Println()
	// Output: a a b a c a a
}
