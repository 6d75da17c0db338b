package pool_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/meshlite/meshlite/proxy/pool"
)

func Example() {
	l := pool.New(pool.Limits{HTTP2MaxRequests: 1})
	release, _ := l.Acquire(context.Background(), pool.HTTP2)
	_, err := l.Acquire(context.Background(), pool.HTTP2)
	var of *pool.OverflowError
	if errors.As(err, &of) {
		fmt.Println("503, Meshlite-Overflow:", of.Limit)
	}
	release()
	// Output: 503, Meshlite-Overflow: http2MaxRequests
}
