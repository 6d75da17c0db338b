package accesslog

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Filter selects access-log lines. The zero Filter selects every line.
type Filter struct {
	// Since keeps lines logged at or after it.
	Since time.Time
	// TraceID keeps the lines of one trace: 32 lower-case hex digits.
	TraceID string
	// Status keeps HTTP lines whose status is in one of the ranges (TCP
	// lines have none).
	Status []StatusRange
	// Direction keeps "inbound" or "outbound" lines.
	Direction string
}

// StatusRange is an inclusive range of HTTP status codes.
type StatusRange struct{ Min, Max int }

// Empty reports whether f selects every line.
func (f Filter) Empty() bool {
	return f.Since.IsZero() && f.TraceID == "" && len(f.Status) == 0 && f.Direction == ""
}

// Line is what a filter reads from an access-log line.
type Line struct {
	Time      string `json:"time"`
	TraceID   string `json:"trace_id"`
	Status    int    `json:"status"`
	Direction string `json:"direction"`
}

// Match reports whether f selects line.
func (f Filter) Match(line []byte) bool {
	if f.Empty() {
		return true
	}
	if f.TraceID != "" && !bytes.Contains(line, []byte(f.TraceID)) {
		return false // the common case of a trace query, without parsing
	}
	var l Line
	if err := json.Unmarshal(line, &l); err != nil {
		return false
	}
	if f.TraceID != "" && l.TraceID != f.TraceID {
		return false
	}
	if f.Direction != "" && l.Direction != f.Direction {
		return false
	}
	if len(f.Status) > 0 && !inRanges(l.Status, f.Status) {
		return false
	}
	if !f.Since.IsZero() {
		t, err := time.Parse(time.RFC3339Nano, l.Time)
		if err != nil || t.Before(f.Since) {
			return false
		}
	}
	return true
}

func inRanges(status int, rs []StatusRange) bool {
	if status == 0 {
		return false
	}
	for _, r := range rs {
		if status >= r.Min && status <= r.Max {
			return true
		}
	}
	return false
}

// ParseFilter reads a filter from query parameters: since (an RFC 3339
// time, or a duration before now such as "5m"), trace (a trace ID: 32 hex
// digits, or B3's 16), status (comma-separated codes or classes:
// "503,5xx,4xx") and direction.
func ParseFilter(q url.Values, now time.Time) (Filter, error) {
	var f Filter
	if s := q.Get("since"); s != "" {
		t, err := ParseSince(s, now)
		if err != nil {
			return Filter{}, err
		}
		f.Since = t
	}
	if s := q.Get("trace"); s != "" {
		id, err := NormalizeTraceID(s)
		if err != nil {
			return Filter{}, err
		}
		f.TraceID = id
	}
	if s := q.Get("status"); s != "" {
		rs, err := ParseStatus(s)
		if err != nil {
			return Filter{}, err
		}
		f.Status = rs
	}
	switch d := q.Get("direction"); d {
	case "", "inbound", "outbound":
		f.Direction = d
	default:
		return Filter{}, fmt.Errorf("accesslog: direction %q is not inbound or outbound", d)
	}
	return f, nil
}

// ParseSince reads an RFC 3339 time, or a duration that far before now.
func ParseSince(s string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return time.Time{}, fmt.Errorf("accesslog: since %q is neither an RFC 3339 time nor a positive duration", s)
	}
	return now.Add(-d), nil
}

// NormalizeTraceID returns a trace ID as the access log writes it: 32
// lower-case hex digits (a 64-bit B3 ID gets 16 leading zeros).
func NormalizeTraceID(s string) (string, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	if len(s) == 16 {
		s = strings.Repeat("0", 16) + s
	}
	if len(s) != 32 || strings.Trim(s, "0123456789abcdef") != "" || s == strings.Repeat("0", 32) {
		return "", fmt.Errorf("accesslog: trace ID %q is not 32 (or 16) hex digits", s)
	}
	return s, nil
}

// ParseStatus reads comma-separated status codes ("503") and classes
// ("5xx").
func ParseStatus(s string) ([]StatusRange, error) {
	var out []StatusRange
	for item := range strings.SplitSeq(s, ",") {
		item = strings.ToLower(strings.TrimSpace(item))
		if item == "" {
			continue
		}
		if len(item) == 3 && item[1:] == "xx" && item[0] >= '1' && item[0] <= '5' {
			base := int(item[0]-'0') * 100
			out = append(out, StatusRange{base, base + 99})
			continue
		}
		n, err := strconv.Atoi(item)
		if err != nil || n < 100 || n > 599 {
			return nil, fmt.Errorf("accesslog: status %q is neither a code (100-599) nor a class (1xx-5xx)", item)
		}
		out = append(out, StatusRange{n, n})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("accesslog: empty status filter")
	}
	return out, nil
}
