package stats

import (
	"cmp"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/meshlite/meshlite/proxy/tap"
)

// TopRow is one line of `meshctl top`: the requests from one source to
// one destination with one method and path.
type TopRow struct {
	Source, Destination, Method, Path string
	Count, Successes                  int
	// Best, Worst and Last are latencies in milliseconds.
	Best, Worst, Last float64
	// LastSeen is when the last request finished.
	LastSeen time.Time
}

// SuccessRate is the share of successful requests, 0 to 1.
func (r TopRow) SuccessRate() float64 {
	if r.Count == 0 {
		return 0
	}
	return float64(r.Successes) / float64(r.Count)
}

type topKey struct{ src, dst, method, path string }

// Directions Top counts.
const (
	// DirectionDedup counts each request once: every inbound event, and
	// the outbound events whose endpoint is not one of the tapped proxies
	// (those would report it again, inbound).
	DirectionDedup    = ""
	DirectionInbound  = "inbound"
	DirectionOutbound = "outbound"
)

// Top aggregates tap events into rows. It is not safe for concurrent use.
type Top struct {
	direction string
	tapped    map[netip.Addr]bool
	rows      map[topKey]*TopRow
	total     int
}

// NewTop returns an empty aggregation of the events of one direction
// (DirectionDedup, DirectionInbound or DirectionOutbound) from proxies at
// the tapped addresses.
func NewTop(direction string, tapped []netip.Addr) *Top {
	t := &Top{direction: direction, tapped: map[netip.Addr]bool{}, rows: map[topKey]*TopRow{}}
	for _, a := range tapped {
		t.tapped[a.Unmap()] = true
	}
	return t
}

// Add counts an HTTP event and reports whether it did; TCP events and
// events of the other direction are left out.
func (t *Top) Add(e tap.Event) bool {
	if e.Kind != "http" {
		return false
	}
	switch t.direction {
	case DirectionInbound, DirectionOutbound:
		if e.Direction != t.direction {
			return false
		}
	default:
		if e.Direction == DirectionOutbound && t.tapped[hostOf(e.Endpoint)] {
			return false
		}
	}
	k := topKey{src: source(e), dst: destination(e), method: e.Method, path: e.Path}
	r, ok := t.rows[k]
	if !ok {
		r = &TopRow{Source: k.src, Destination: k.dst, Method: k.method, Path: k.path, Best: e.LatencyMs, Worst: e.LatencyMs}
		t.rows[k] = r
	}
	r.Count++
	t.total++
	if e.Success {
		r.Successes++
	}
	r.Best, r.Worst, r.Last = min(r.Best, e.LatencyMs), max(r.Worst, e.LatencyMs), e.LatencyMs
	r.LastSeen = e.Time
	return true
}

// Total is the number of requests counted.
func (t *Top) Total() int { return t.total }

// source is the caller: its identity over mutual TLS, else its address.
func source(e tap.Event) string {
	if e.ClientID != "" {
		return ShortID(e.ClientID)
	}
	if a := hostOf(e.Client); a.IsValid() {
		return a.String()
	}
	return e.Client
}

// destination is the server's identity over mutual TLS, else the
// authority asked for, else the original destination.
func destination(e tap.Event) string {
	switch {
	case e.ServerID != "":
		return ShortID(e.ServerID)
	case e.Authority != "":
		return e.Authority
	}
	return e.Dst
}

// hostOf is the address of "IP:port", or the zero address.
func hostOf(hostport string) netip.Addr {
	if ap, err := netip.ParseAddrPort(hostport); err == nil {
		return ap.Addr().Unmap()
	}
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		if a, err := netip.ParseAddr(h); err == nil {
			return a.Unmap()
		}
	}
	return netip.Addr{}
}

// ShortID shortens a workload's SPIFFE ID, spiffe://<td>/ns/NS/sa/SA, to
// NS/SA; other strings are returned as they are.
func ShortID(id string) string {
	rest, ok := strings.CutPrefix(id, "spiffe://")
	if !ok {
		return id
	}
	_, path, ok := strings.Cut(rest, "/")
	if !ok {
		return id
	}
	parts := strings.Split(path, "/")
	if len(parts) != 4 || parts[0] != "ns" || parts[2] != "sa" {
		return id
	}
	return parts[1] + "/" + parts[3]
}

// SortKey orders top's rows.
type SortKey string

// The sort keys: numbers sort the largest first (the lowest success rate
// first), names alphabetically.
const (
	SortCount       SortKey = "count"
	SortBest        SortKey = "best"
	SortWorst       SortKey = "worst"
	SortLast        SortKey = "last"
	SortSuccess     SortKey = "success"
	SortSource      SortKey = "source"
	SortDestination SortKey = "destination"
	SortMethod      SortKey = "method"
	SortPath        SortKey = "path"
)

// SortKeys lists the sort keys in the order the terminal UI cycles them.
var SortKeys = []SortKey{SortCount, SortBest, SortWorst, SortLast, SortSuccess, SortSource, SortDestination, SortMethod, SortPath}

// ParseSortKey checks a sort key's name.
func ParseSortKey(s string) (SortKey, error) {
	if k := SortKey(s); slices.Contains(SortKeys, k) {
		return k, nil
	}
	names := make([]string, len(SortKeys))
	for i, k := range SortKeys {
		names[i] = string(k)
	}
	return "", fmt.Errorf("sort key %q: want one of %s", s, strings.Join(names, ", "))
}

// Rows returns the rows sorted by key, ties by source, destination,
// method and path.
func (t *Top) Rows(key SortKey) []TopRow {
	out := make([]TopRow, 0, len(t.rows))
	for _, r := range t.rows {
		out = append(out, *r)
	}
	SortRows(out, key)
	return out
}

// SortRows sorts rows by key, ties by source, destination, method and
// path.
func SortRows(rows []TopRow, key SortKey) {
	slices.SortFunc(rows, func(a, b TopRow) int {
		var c int
		switch key {
		case SortBest:
			c = cmp.Compare(b.Best, a.Best)
		case SortWorst:
			c = cmp.Compare(b.Worst, a.Worst)
		case SortLast:
			c = cmp.Compare(b.Last, a.Last)
		case SortSuccess:
			c = cmp.Compare(a.SuccessRate(), b.SuccessRate())
		case SortSource:
			c = strings.Compare(a.Source, b.Source)
		case SortDestination:
			c = strings.Compare(a.Destination, b.Destination)
		case SortMethod:
			c = strings.Compare(a.Method, b.Method)
		case SortPath:
			c = strings.Compare(a.Path, b.Path)
		default:
			c = cmp.Compare(b.Count, a.Count)
		}
		return cmp.Or(c, strings.Compare(a.Source, b.Source), strings.Compare(a.Destination, b.Destination),
			strings.Compare(a.Method, b.Method), strings.Compare(a.Path, b.Path))
	})
}
