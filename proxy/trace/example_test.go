package trace_test

import (
	"fmt"
	"net/http"

	"github.com/meshlite/meshlite/proxy/trace"
)

func ExampleExtract() {
	h := http.Header{}
	h.Set("b3", "a3ce929d0e0e4736-00f067aa0ba902b7-1")
	c := trace.Extract(h)
	fmt.Println(c.TraceID, c.SpanID, c.IsSampled(), c.Short)
	// Output: 0000000000000000a3ce929d0e0e4736 00f067aa0ba902b7 true true
}

func ExampleInject() {
	in := http.Header{}
	in.Set("b3", "a3ce929d0e0e4736-00f067aa0ba902b7-1")
	parent := trace.Extract(in)

	// The hop's own span continues the caller's trace.
	next := parent
	next.SpanID = [8]byte{0x53, 0x99, 0x5c, 0x3f, 0x42, 0xcd, 0x8a, 0xd8}
	out := http.Header{}
	trace.Inject(out, next, parent.SpanID, parent.Formats)
	fmt.Println(out.Get("traceparent"))
	fmt.Println(out.Get("b3"))
	// Output:
	// 00-0000000000000000a3ce929d0e0e4736-53995c3f42cd8ad8-01
	// a3ce929d0e0e4736-53995c3f42cd8ad8-1-00f067aa0ba902b7
}
