package accesslog

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// Response headers naming the proxy that answers /logs.
const (
	HeaderWorkload = "Meshlite-Workload"
	HeaderIdentity = "Meshlite-Identity"
)

// HandlerConfig is what the /logs handler serves.
type HandlerConfig struct {
	Ring *Ring
	// Workload and Identity name the proxy (response headers); optional.
	Workload, Identity string
	// Queue is each follower's queue, in lines: default 4096.
	Queue int
	// Now is the clock for relative "since" values; default time.Now.
	Now func() time.Time
}

// Handler serves GET /logs: the kept lines that match the query's filter
// (see ParseFilter; limit=N keeps the last N), then, with follow=1, new
// matching lines as they are logged, until the client goes. Lines are
// newline-delimited JSON, exactly as logged. A follower gets two kinds of
// control lines besides: {"log":"live","time":...} once, between the kept
// lines and the new ones, and {"log":"dropped","dropped":N,"time":...}
// in place of lines it missed because its queue was full.
func Handler(cfg HandlerConfig) http.Handler {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		f, err := ParseFilter(q, cfg.Now())
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		limit := 0
		if s := q.Get("limit"); s != "" {
			if limit, err = strconv.Atoi(s); err != nil || limit < 0 {
				http.Error(w, fmt.Sprintf("accesslog: limit %q is not a count", s), http.StatusBadRequest)
				return
			}
		}
		follow := q.Get("follow") == "1" || q.Get("follow") == "true"
		serve(cfg, f, limit, follow, w, r)
	})
}

func serve(cfg HandlerConfig, f Filter, limit int, follow bool, w http.ResponseWriter, r *http.Request) {
	var backlog [][]byte
	var fl *Follower
	if follow {
		var err error
		backlog, fl, err = cfg.Ring.Follow(cfg.Queue)
		if errors.Is(err, ErrTooManyFollowers) {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		defer fl.Close()
	} else {
		backlog = cfg.Ring.Lines()
	}
	h := w.Header()
	h.Set("Content-Type", "application/x-ndjson")
	if cfg.Workload != "" {
		h.Set(HeaderWorkload, cfg.Workload)
	}
	if cfg.Identity != "" {
		h.Set(HeaderIdentity, cfg.Identity)
	}
	w.WriteHeader(http.StatusOK)
	matched := make([][]byte, 0, min(len(backlog), 1024))
	for _, l := range backlog {
		if f.Match(l) {
			matched = append(matched, l)
		}
	}
	if limit > 0 && len(matched) > limit {
		matched = matched[len(matched)-limit:]
	}
	for _, l := range matched {
		if !writeLine(w, l) {
			return
		}
	}
	rc := http.NewResponseController(w)
	if !follow {
		return
	}
	if !writeLine(w, liveLine(cfg.Now())) || rc.Flush() != nil {
		return
	}
	f.Since = time.Time{} // new lines are newer anyway
	for {
		select {
		case <-r.Context().Done():
			return
		case l := <-fl.Lines():
			if n := fl.TakeDropped(); n > 0 {
				if !writeLine(w, droppedLine(n, cfg.Now())) {
					return
				}
			}
			if !f.Match(l) {
				continue
			}
			if !writeLine(w, l) || rc.Flush() != nil {
				return
			}
		}
	}
}

func writeLine(w http.ResponseWriter, l []byte) bool {
	if _, err := w.Write(l); err != nil {
		return false
	}
	_, err := w.Write([]byte{'\n'})
	return err == nil
}

func liveLine(now time.Time) []byte {
	return fmt.Appendf(nil, `{"log":"live","time":%q}`, now.UTC().Format(time.RFC3339Nano))
}

func droppedLine(n int64, now time.Time) []byte {
	return fmt.Appendf(nil, `{"log":"dropped","dropped":%d,"time":%q}`, n, now.UTC().Format(time.RFC3339Nano))
}
