package logging

import (
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
)

// Level is a log level that can be read and changed concurrently.
type Level struct {
	v atomic.Int32
}

// Get returns the current level.
func (l *Level) Get() zerolog.Level { return zerolog.Level(l.v.Load()) }

// Set changes the level; events below it are dropped from then on.
func (l *Level) Set(lvl zerolog.Level) { l.v.Store(int32(lvl)) }

// Parse turns a level name ("trace", "debug", "info", "warn", "error",
// "fatal", "panic", "disabled"; case and surrounding space ignored) into a
// level, with an error naming the bad value.
func Parse(s string) (zerolog.Level, error) {
	name := strings.ToLower(strings.TrimSpace(s))
	if name == "" {
		return zerolog.NoLevel, fmt.Errorf("logging: empty log level (want one of trace, debug, info, warn, error, disabled)")
	}
	lvl, err := zerolog.ParseLevel(name)
	if err != nil || lvl == zerolog.NoLevel {
		return zerolog.NoLevel, fmt.Errorf("logging: unknown log level %q (want one of trace, debug, info, warn, error, disabled)", s)
	}
	return lvl, nil
}

// filter drops events below the dynamic level before they reach w.
type filter struct {
	w   io.Writer
	lvl *Level
}

func (f filter) Write(p []byte) (int, error) { return f.w.Write(p) }

func (f filter) WriteLevel(l zerolog.Level, p []byte) (int, error) {
	if l < f.lvl.Get() {
		return len(p), nil
	}
	return f.w.Write(p)
}

// New returns a JSON logger writing to w and the Level that governs it,
// starting at lvl.
func New(w io.Writer, lvl zerolog.Level) (zerolog.Logger, *Level) {
	level := &Level{}
	level.Set(lvl)
	l := zerolog.New(filter{w: w, lvl: level}).
		Level(zerolog.TraceLevel).
		With().Timestamp().Logger()
	return l, level
}

// Enabled reports whether events at l would be written by a logger governed by
// lvl; hot paths check it before building an event.
func (l *Level) Enabled(at zerolog.Level) bool { return at >= l.Get() }

func init() {
	// zerolog's time format is a package setting. meshlite sets it once, the
	// same for every binary, and never changes it: access logs from several
	// proxies are merged by time, so they need sub-second precision.
	zerolog.TimeFieldFormat = time.RFC3339Nano
}
