package logging

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/rs/zerolog"
)

func TestLevelChangesAtRunTime(t *testing.T) {
	var buf bytes.Buffer
	log, lvl := New(&buf, zerolog.InfoLevel)
	log.Debug().Msg("hidden")
	log.Info().Msg("shown")
	lvl.Set(zerolog.DebugLevel)
	log.Debug().Msg("now shown")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("got %d lines, want 2: %q", len(lines), buf.String())
	}
	var ev map[string]any
	if err := json.Unmarshal([]byte(lines[1]), &ev); err != nil {
		t.Fatalf("line is not JSON: %v", err)
	}
	if ev["message"] != "now shown" || ev["level"] != "debug" || ev["time"] == nil {
		t.Fatalf("unexpected event %v", ev)
	}
	if !lvl.Enabled(zerolog.InfoLevel) || lvl.Enabled(zerolog.TraceLevel) {
		t.Fatalf("Enabled disagrees with level %v", lvl.Get())
	}
}

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want zerolog.Level
		err  bool
	}{
		{"info", zerolog.InfoLevel, false},
		{" DEBUG\n", zerolog.DebugLevel, false},
		{"disabled", zerolog.Disabled, false},
		{"", 0, true},
		{"verbose", 0, true},
	} {
		got, err := Parse(tc.in)
		if (err != nil) != tc.err || (!tc.err && got != tc.want) {
			t.Errorf("Parse(%q) = %v, %v", tc.in, got, err)
		}
	}
}
