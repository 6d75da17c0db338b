package trace

import (
	"net/http"
	"testing"

	oteltrace "go.opentelemetry.io/otel/trace"
)

const (
	tid   = "4bf92f3577b34da6a3ce929d0e0e4736"
	sid   = "00f067aa0ba902b7"
	tid64 = "a3ce929d0e0e4736"
	psid  = "05e3ac9a4f6e3b90"
)

func hdr(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i < len(kv); i += 2 {
		h.Add(kv[i], kv[i+1])
	}
	return h
}

func TestExtract(t *testing.T) {
	tests := []struct {
		name    string
		h       http.Header
		valid   bool
		trace   string // want, when valid
		span    string
		samp    Sampling
		state   string
		formats Format
		short   bool
	}{
		{name: "none", h: hdr()},
		{name: "w3c sampled", h: hdr("traceparent", "00-"+tid+"-"+sid+"-01"), valid: true, trace: tid, span: sid, samp: Sampled, formats: W3C},
		{name: "w3c not sampled", h: hdr("traceparent", "00-"+tid+"-"+sid+"-00"), valid: true, trace: tid, span: sid, samp: NotSampled, formats: W3C},
		{name: "w3c other flags, sampled bit", h: hdr("traceparent", "00-"+tid+"-"+sid+"-09"), valid: true, trace: tid, span: sid, samp: Sampled, formats: W3C},
		{name: "w3c tracestate kept", h: hdr("traceparent", "00-"+tid+"-"+sid+"-01", "tracestate", "rojo=00f067aa0ba902b7", "tracestate", "congo=t61rcWkgMzE"),
			valid: true, trace: tid, span: sid, samp: Sampled, state: "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE", formats: W3C},
		{name: "w3c future version with more fields", h: hdr("traceparent", "01-"+tid+"-"+sid+"-01-whatever"), valid: true, trace: tid, span: sid, samp: Sampled, formats: W3C},
		{name: "w3c future version exact", h: hdr("traceparent", "cc-"+tid+"-"+sid+"-00"), valid: true, trace: tid, span: sid, samp: NotSampled, formats: W3C},
		{name: "w3c version ff", h: hdr("traceparent", "ff-"+tid+"-"+sid+"-01"), formats: W3C},
		{name: "w3c version 00 too long", h: hdr("traceparent", "00-"+tid+"-"+sid+"-01-extra"), formats: W3C},
		{name: "w3c future version bad separator", h: hdr("traceparent", "01-"+tid+"-"+sid+"-01x"), formats: W3C},
		{name: "w3c upper case", h: hdr("traceparent", "00-4BF92F3577B34DA6A3CE929D0E0E4736-"+sid+"-01"), formats: W3C},
		{name: "w3c zero trace", h: hdr("traceparent", "00-00000000000000000000000000000000-"+sid+"-01"), formats: W3C},
		{name: "w3c zero span", h: hdr("traceparent", "00-"+tid+"-0000000000000000-01"), formats: W3C},
		{name: "w3c short", h: hdr("traceparent", "00-"+tid+"-"+sid+"-1"), formats: W3C},
		{name: "w3c bad dash", h: hdr("traceparent", "00_"+tid+"-"+sid+"-01"), formats: W3C},
		{name: "w3c twice", h: hdr("traceparent", "00-"+tid+"-"+sid+"-01", "traceparent", "00-"+tid+"-"+sid+"-01"), formats: W3C},
		{name: "w3c invalid ignores tracestate", h: hdr("traceparent", "garbage", "tracestate", "a=b"), formats: W3C},
		{name: "b3 single full", h: hdr("b3", tid+"-"+sid+"-1-"+psid), valid: true, trace: tid, span: sid, samp: Sampled, formats: B3Single},
		{name: "b3 single no parent", h: hdr("b3", tid+"-"+sid+"-0"), valid: true, trace: tid, span: sid, samp: NotSampled, formats: B3Single},
		{name: "b3 single deferred", h: hdr("b3", tid+"-"+sid), valid: true, trace: tid, span: sid, samp: Deferred, formats: B3Single},
		{name: "b3 single debug 64-bit", h: hdr("b3", tid64+"-"+sid+"-d"), valid: true, trace: "0000000000000000" + tid64, span: sid, samp: Debug, formats: B3Single, short: true},
		{name: "b3 single deny only", h: hdr("b3", "0"), samp: NotSampled, formats: B3Single},
		{name: "b3 single accept only", h: hdr("b3", "1"), samp: Sampled, formats: B3Single},
		{name: "b3 single bad state", h: hdr("b3", tid+"-"+sid+"-x"), formats: B3Single},
		{name: "b3 single bad parent", h: hdr("b3", tid+"-"+sid+"-1-xyz"), formats: B3Single},
		{name: "b3 single bad trace width", h: hdr("b3", "abc-"+sid+"-1"), formats: B3Single},
		{name: "b3 single zero span", h: hdr("b3", tid+"-0000000000000000-1"), formats: B3Single},
		{name: "b3 multi", h: hdr("X-B3-TraceId", tid, "X-B3-SpanId", sid, "X-B3-ParentSpanId", psid, "X-B3-Sampled", "1"),
			valid: true, trace: tid, span: sid, samp: Sampled, formats: B3Multi},
		{name: "b3 multi legacy false", h: hdr("X-B3-TraceId", tid, "X-B3-SpanId", sid, "X-B3-Sampled", "false"),
			valid: true, trace: tid, span: sid, samp: NotSampled, formats: B3Multi},
		{name: "b3 multi debug 64-bit", h: hdr("X-B3-TraceId", tid64, "X-B3-SpanId", sid, "X-B3-Flags", "1"),
			valid: true, trace: "0000000000000000" + tid64, span: sid, samp: Debug, formats: B3Multi, short: true},
		{name: "b3 multi deferred", h: hdr("X-B3-TraceId", tid, "X-B3-SpanId", sid), valid: true, trace: tid, span: sid, samp: Deferred, formats: B3Multi},
		{name: "b3 multi decision only", h: hdr("X-B3-Sampled", "0"), samp: NotSampled, formats: B3Multi},
		{name: "b3 multi bad sampled", h: hdr("X-B3-TraceId", tid, "X-B3-SpanId", sid, "X-B3-Sampled", "yes"), formats: B3Multi},
		{name: "b3 multi no span", h: hdr("X-B3-TraceId", tid), formats: B3Multi},
		{name: "w3c wins over b3", h: hdr("traceparent", "00-"+tid+"-"+sid+"-00", "b3", tid64+"-"+psid+"-1"),
			valid: true, trace: tid, span: sid, samp: NotSampled, formats: W3C | B3Single},
		{name: "bad w3c falls back to b3 single", h: hdr("traceparent", "00-zz", "b3", tid+"-"+sid+"-1"),
			valid: true, trace: tid, span: sid, samp: Sampled, formats: W3C | B3Single},
		{name: "b3 single before multi", h: hdr("b3", tid+"-"+sid+"-1", "X-B3-TraceId", tid64, "X-B3-SpanId", psid),
			valid: true, trace: tid, span: sid, samp: Sampled, formats: B3Single | B3Multi},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Extract(tt.h)
			if c.Valid() != tt.valid {
				t.Fatalf("valid = %v, want %v (%+v)", c.Valid(), tt.valid, c)
			}
			if c.Formats != tt.formats || c.Sampling != tt.samp || c.Short != tt.short || c.TraceState != tt.state {
				t.Fatalf("got formats %b sampling %d short %v state %q, want %b %d %v %q", c.Formats, c.Sampling, c.Short, c.TraceState,
					tt.formats, tt.samp, tt.short, tt.state)
			}
			if !tt.valid {
				return
			}
			if c.TraceID.String() != tt.trace || c.SpanID.String() != tt.span {
				t.Fatalf("ids %s/%s, want %s/%s", c.TraceID, c.SpanID, tt.trace, tt.span)
			}
		})
	}
}

func TestInject(t *testing.T) {
	trace, _ := oteltrace.TraceIDFromHex("0000000000000000" + tid64)
	span, _ := oteltrace.SpanIDFromHex(sid)
	parent, _ := oteltrace.SpanIDFromHex(psid)
	tests := []struct {
		name    string
		c       Context
		parent  oteltrace.SpanID
		formats Format
		before  http.Header
		want    map[string]string // "" value: must be absent
	}{
		{name: "w3c only", c: Context{TraceID: trace, SpanID: span, Sampling: Sampled}, formats: W3C,
			before: hdr("tracestate", "stale=1"),
			want:   map[string]string{"Traceparent": "00-0000000000000000" + tid64 + "-" + sid + "-01", "Tracestate": "", "B3": "", "X-B3-Traceid": ""}},
		{name: "tracestate", c: Context{TraceID: trace, SpanID: span, Sampling: NotSampled, TraceState: "a=b"}, formats: W3C,
			want: map[string]string{"Traceparent": "00-0000000000000000" + tid64 + "-" + sid + "-00", "Tracestate": "a=b"}},
		{name: "b3 single short keeps width", c: Context{TraceID: trace, SpanID: span, Sampling: Sampled, Short: true}, parent: parent, formats: B3Single,
			want: map[string]string{"Traceparent": "00-0000000000000000" + tid64 + "-" + sid + "-01", "B3": tid64 + "-" + sid + "-1-" + psid}},
		{name: "b3 single debug no parent", c: Context{TraceID: trace, SpanID: span, Sampling: Debug}, formats: B3Single,
			want: map[string]string{"B3": "0000000000000000" + tid64 + "-" + sid + "-d"}},
		{name: "b3 multi", c: Context{TraceID: trace, SpanID: span, Sampling: NotSampled}, parent: parent, formats: B3Multi,
			before: hdr("X-B3-Flags", "1"),
			want: map[string]string{"X-B3-Traceid": "0000000000000000" + tid64, "X-B3-Spanid": sid, "X-B3-Parentspanid": psid,
				"X-B3-Sampled": "0", "X-B3-Flags": ""}},
		{name: "b3 multi debug", c: Context{TraceID: trace, SpanID: span, Sampling: Debug, Short: true}, formats: B3Multi,
			before: hdr("X-B3-Sampled", "1", "X-B3-ParentSpanId", psid),
			want:   map[string]string{"X-B3-Traceid": tid64, "X-B3-Flags": "1", "X-B3-Sampled": "", "X-B3-Parentspanid": ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := tt.before
			if h == nil {
				h = http.Header{}
			}
			Inject(h, tt.c, tt.parent, tt.formats)
			for k, v := range tt.want {
				if got := h.Get(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
			// What was injected reads back as the same context.
			back := Extract(h)
			if back.TraceID != tt.c.TraceID || back.SpanID != tt.c.SpanID || back.IsSampled() != tt.c.IsSampled() {
				t.Errorf("read back %+v, want %+v", back, tt.c)
			}
		})
	}
}

func FuzzExtract(f *testing.F) {
	f.Add("00-"+tid+"-"+sid+"-01", "rojo=1", tid+"-"+sid+"-1-"+psid, tid, sid, "1", "")
	f.Add("ff-"+tid+"-"+sid+"-01", "", "0", "", "", "", "1")
	f.Add("01-"+tid+"-"+sid+"-01-x", "", tid64+"-"+sid, tid64, sid, "true", "0")
	f.Fuzz(func(t *testing.T, tp, ts, b3, xt, xs, xsamp, xflags string) {
		h := http.Header{}
		for k, v := range map[string]string{"Traceparent": tp, "Tracestate": ts, "B3": b3, "X-B3-Traceid": xt,
			"X-B3-Spanid": xs, "X-B3-Sampled": xsamp, "X-B3-Flags": xflags} {
			if v != "" {
				h[k] = []string{v}
			}
		}
		c := Extract(h)
		if c.Valid() != (c.TraceID.IsValid() && c.SpanID.IsValid()) {
			t.Fatal("Valid disagrees with the IDs")
		}
		if !c.Valid() {
			return
		}
		out := http.Header{}
		Inject(out, c, oteltrace.SpanID{}, B3Single|B3Multi)
		for _, only := range []string{"Traceparent", "B3", "X-B3-Traceid"} {
			one := out.Clone()
			for k := range one {
				if k != only && !(only == "X-B3-Traceid" && (k == "X-B3-Spanid" || k == "X-B3-Sampled" || k == "X-B3-Flags")) {
					delete(one, k)
				}
			}
			back := Extract(one)
			if back.TraceID != c.TraceID || back.SpanID != c.SpanID || back.IsSampled() != c.IsSampled() {
				t.Fatalf("%s: read back %+v from %v, want %+v", only, back, one, c)
			}
		}
	})
}
