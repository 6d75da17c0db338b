package cli

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// logLine is one access-log line read from a proxy.
type logLine struct {
	proxy      string
	order, seq int // the proxy's position, the line's in its stream
	raw        []byte
	fields     accessFields
	// start is when the request began at the proxy (logged time minus
	// duration), end when it was logged.
	start, end time.Time
	arrived    time.Time
}

// accessFields are the access-log fields meshctl reads (docs/observability.md).
type accessFields struct {
	Log        string  `json:"log"`
	Time       string  `json:"time"`
	Kind       string  `json:"kind"`
	Direction  string  `json:"direction"`
	Client     string  `json:"client"`
	Authority  string  `json:"authority"`
	Method     string  `json:"method"`
	Path       string  `json:"path"`
	Status     int     `json:"status"`
	DurationMs float64 `json:"duration_ms"`
	Dst        string  `json:"dst"`
	Endpoint   string  `json:"endpoint"`
	TLS        bool    `json:"tls"`
	ClientID   string  `json:"client_id"`
	ServerID   string  `json:"server_id"`
	GRPCStatus string  `json:"grpc_status"`
	Reset      bool    `json:"reset"`
	Route      string  `json:"route"`
	TraceID    string  `json:"trace_id"`
	SpanID     string  `json:"span_id"`
	Protocol   string  `json:"protocol"`
	BytesIn    int64   `json:"bytes_in"`
	BytesOut   int64   `json:"bytes_out"`
	Error      string  `json:"error"`
	Dropped    int64   `json:"dropped"`
}

// parseLogLine reads one line of a proxy's /logs; ok is false for a line
// that is not a JSON object.
func parseLogLine(b []byte, proxy string, order, seq int) (*logLine, bool) {
	l := &logLine{proxy: proxy, order: order, seq: seq}
	if err := json.Unmarshal(b, &l.fields); err != nil {
		return nil, false
	}
	l.raw = append([]byte(nil), b...)
	if t, err := time.Parse(time.RFC3339Nano, l.fields.Time); err == nil {
		l.end = t
		l.start = t.Add(-time.Duration(l.fields.DurationMs * float64(time.Millisecond)))
	}
	return l, true
}

// jsonLine is the line as the proxy logged it, with "proxy" added first.
func (l *logLine) jsonLine() []byte {
	name, _ := json.Marshal(l.proxy)
	out := make([]byte, 0, len(l.raw)+len(name)+12)
	out = append(out, `{"proxy":`...)
	out = append(out, name...)
	rest := strings.TrimSpace(string(l.raw))
	rest = strings.TrimPrefix(rest, "{")
	if strings.TrimSpace(rest) != "}" {
		out = append(out, ',')
	}
	return append(out, rest...)
}

// timeLayout is the start time in text output: UTC, milliseconds.
const timeLayout = "2006-01-02T15:04:05.000Z07:00"

// text renders the line for people, on one line:
//
//	START PROXY DIRECTION METHOD AUTHORITY+PATH STATUS DURATION [tls CLIENT -> SERVER] [route=R] [grpc=G] [reset] [trace=T span=S]
//	START PROXY DIRECTION tcp CLIENT -> DST [via ENDPOINT] PROTOCOL DURATION in=N out=N [tls CLIENT -> SERVER] [error=E]
func (l *logLine) text() string {
	f := l.fields
	var b strings.Builder
	start := f.Time
	if !l.start.IsZero() {
		start = l.start.UTC().Format(timeLayout)
	}
	fmt.Fprintf(&b, "%s %s %s", start, l.proxy, f.Direction)
	dur := strconv.FormatFloat(f.DurationMs, 'f', -1, 64) + "ms"
	if f.Kind == "tcp" {
		fmt.Fprintf(&b, " tcp %s -> %s", f.Client, f.Dst)
		if f.Endpoint != "" && f.Endpoint != f.Dst {
			fmt.Fprintf(&b, " via %s", f.Endpoint)
		}
		fmt.Fprintf(&b, " %s %s in=%d out=%d", f.Protocol, dur, f.BytesIn, f.BytesOut)
	} else {
		fmt.Fprintf(&b, " %s %s%s %d %s", f.Method, f.Authority, f.Path, f.Status, dur)
	}
	if f.TLS {
		fmt.Fprintf(&b, " tls %s -> %s", orDash(f.ClientID), orDash(f.ServerID))
	}
	if f.Route != "" {
		fmt.Fprintf(&b, " route=%s", f.Route)
	}
	if f.GRPCStatus != "" {
		fmt.Fprintf(&b, " grpc=%s", f.GRPCStatus)
	}
	if f.Reset {
		b.WriteString(" reset")
	}
	if f.Error != "" {
		fmt.Fprintf(&b, " error=%q", f.Error)
	}
	if f.TraceID != "" {
		fmt.Fprintf(&b, " trace=%s span=%s", f.TraceID, f.SpanID)
	}
	return b.String()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
