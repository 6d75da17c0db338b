package cli

import (
	"bytes"
	"net/netip"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/meshlite/meshlite/internal/stats"
	"github.com/meshlite/meshlite/proxy/tap"
)

// topFixture is a tap stream of two tapped proxies (client 10.201.0.4,
// web 10.201.0.3): each meshed request shows up twice, outbound at the
// client and inbound at web; calls to an unmeshed service once.
func topFixture() []tap.Event {
	t0 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	var evs []tap.Event
	add := func(path string, status int, latency float64, ok bool) {
		in := tap.Event{Time: t0, Direction: "inbound", Kind: "http", Client: "10.201.0.4:40000", ClientID: clientID,
			Authority: "web.default.svc:80", ServerID: webID, TLS: true, Method: "GET", Path: path, Status: status,
			LatencyMs: latency, Success: ok}
		out := in
		out.Direction, out.Client, out.Endpoint = "outbound", "10.201.0.4:50000", "10.201.0.3:8080"
		evs = append(evs, out, in)
	}
	for i := range 6 {
		add("/api/items", 200, float64(1+i), true)
	}
	add("/api/items", 500, 250, false)
	for range 3 {
		add("/healthz", 200, 0.4, true)
	}
	evs = append(evs,
		tap.Event{Time: t0, Direction: "outbound", Kind: "http", Client: "10.201.0.4:50001", Authority: "example.com",
			Endpoint: "93.184.215.14:80", Method: "POST", Path: "/upload", Status: 201, LatencyMs: 1500, Success: true},
		tap.Event{Time: t0, Direction: "inbound", Kind: "tcp", Client: "10.201.0.4:50002", Success: true})
	return evs
}

func TestTopGolden(t *testing.T) {
	tapped := []netip.Addr{netip.MustParseAddr("10.201.0.3"), netip.MustParseAddr("10.201.0.4")}
	for _, tc := range []struct {
		name      string
		direction string
		sort      stats.SortKey
		total     int
	}{
		{"count", stats.DirectionDedup, stats.SortCount, 11},
		{"worst", stats.DirectionDedup, stats.SortWorst, 11},
		{"success", stats.DirectionDedup, stats.SortSuccess, 11},
		{"path", stats.DirectionDedup, stats.SortPath, 11},
		{"outbound", stats.DirectionOutbound, stats.SortCount, 11},
		{"inbound", stats.DirectionInbound, stats.SortCount, 10},
	} {
		top := stats.NewTop(tc.direction, tapped)
		for _, e := range topFixture() {
			top.Add(e)
		}
		if top.Total() != tc.total {
			t.Errorf("%s: counted %d, want %d", tc.name, top.Total(), tc.total)
		}
		var b bytes.Buffer
		if err := stats.RenderTop(&b, top.Rows(tc.sort), 0); err != nil {
			t.Fatal(err)
		}
		golden(t, "top/"+tc.name+".golden", b.String())
	}
}

// TestTopView renders the full-screen view at a fixed size.
func TestTopView(t *testing.T) {
	tapped := []netip.Addr{netip.MustParseAddr("10.201.0.3"), netip.MustParseAddr("10.201.0.4")}
	st := &topState{top: stats.NewTop(stats.DirectionDedup, tapped), proxies: 2}
	st.connected.Store(2)
	for _, e := range topFixture() {
		st.add(e)
	}
	m := topModel{st: st, interval: time.Second, width: 100, height: 6}
	golden(t, "top/view.golden", m.View())
	next, _ := m.Update(keyMsg("s"))
	if got := stats.SortKeys[next.(topModel).sort]; got != stats.SortBest {
		t.Fatalf("s: sort by %s", got)
	}
	prev, _ := m.Update(keyMsg("shift+tab"))
	if got := stats.SortKeys[prev.(topModel).sort]; got != stats.SortPath {
		t.Fatalf("shift+tab: sort by %s", got)
	}
	if _, cmd := m.Update(keyMsg("q")); cmd == nil {
		t.Fatal("q does not quit")
	}
}

func keyMsg(s string) tea.KeyMsg {
	switch s {
	case "shift+tab":
		return tea.KeyMsg{Type: tea.KeyShiftTab}
	}
	return tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(s)}
}
