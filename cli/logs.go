package cli

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/meshlite/meshlite/internal/healthcheck"
	"github.com/meshlite/meshlite/proxy/accesslog"
)

type logsOptions struct {
	mesh      meshOptions
	since     string
	follow    bool
	workloads []string
	status    string
	trace     string
	output    string
	// window is how long a live line waits for lines of other proxies
	// that started earlier.
	window time.Duration
}

func (o *logsOptions) validate() error {
	var errs []error
	if o.output != "text" && o.output != "json" {
		errs = append(errs, fmt.Errorf("-o %q: want text or json", o.output))
	}
	if o.since != "" {
		if _, err := accesslog.ParseSince(o.since, time.Now()); err != nil {
			errs = append(errs, fmt.Errorf("--since %q: want a duration (5m) or an RFC 3339 time", o.since))
		}
	}
	if o.status != "" {
		if _, err := accesslog.ParseStatus(o.status); err != nil {
			errs = append(errs, fmt.Errorf("--status: %w", err))
		}
	}
	if o.trace != "" {
		id, err := accesslog.NormalizeTraceID(o.trace)
		if err != nil {
			errs = append(errs, fmt.Errorf("--trace: %w", err))
		}
		o.trace = id
	}
	if o.window < 0 {
		errs = append(errs, fmt.Errorf("--follow-window must not be negative, got %v", o.window))
	}
	if err := o.mesh.validateProxies(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func newLogsCmd(s Streams) *cobra.Command {
	o := &logsOptions{output: "text", window: time.Second}
	cmd := &cobra.Command{
		Use:   "logs",
		Short: "Show the access logs of the proxies, merged into one time-ordered stream",
		Long: `logs reads the recent access-log lines that each proxy keeps (GET /logs
on its admin port: every proxy the destination service knows, and those
given with --proxy) and prints them as one stream, ordered by the time
each request started at its proxy. --follow goes on with new lines as
they are logged.

--trace ID shows one request's whole journey: the line of every proxy
it crossed, in order (outbound at the caller, inbound at the server,
and so on down the chain). --workload, --status and --since narrow the
lines further.

-o text prints one readable line per request:

  START PROXY DIRECTION METHOD AUTHORITY+PATH STATUS DURATION [tls CLIENT_ID -> SERVER_ID] [route=R] trace=T span=S

-o json prints the proxies' lines exactly as logged, one JSON object per
line, with "proxy" (the proxy's name) added first.

The proxies serve their logs to operators only: on loopback, or over
mutual TLS to an identity of the namespace meshlite (give --identity-dir
or --cert).`,
		Example: `  meshctl logs --destination 10.201.0.2:8086 --identity-addr 10.201.0.2:8080 --identity-dir ./identity --since 10m
  meshctl logs --proxy 10.201.0.3 --proxy 10.201.0.4 --identity-addr 10.201.0.2:8080 --identity-dir ./identity --trace 4bf92f3577b34da6a3ce929d0e0e4736
  meshctl logs --proxy 127.0.0.1:4191 --status 5xx --follow -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.validate(); err != nil {
				return err
			}
			return o.run(cmd.Context(), s)
		},
	}
	f := cmd.Flags()
	o.mesh.addFlags(f)
	f.StringVar(&o.since, "since", "", "only lines logged since this long ago (5m) or this RFC 3339 time (default: all kept)")
	f.BoolVarP(&o.follow, "follow", "f", false, "go on with new lines until Ctrl-C")
	f.StringSliceVar(&o.workloads, "workload", nil, "only the proxies of these workloads (name, namespace/name or service account; repeatable)")
	f.StringVar(&o.status, "status", "", "only HTTP lines with these statuses: codes or classes, comma-separated (503,5xx)")
	f.StringVar(&o.trace, "trace", "", "only the lines of this trace ID (32 hex digits, or B3's 16)")
	f.StringVarP(&o.output, "output", "o", o.output, "output format: text or json")
	f.DurationVar(&o.window, "follow-window", o.window, "with --follow, how long a new line waits for earlier-started lines of other proxies")
	return cmd
}

// logEvent is what a proxy's stream delivers to the merger.
type logEvent struct {
	line *logLine // nil for a control event
	// live is set once the proxy has sent every kept line (--follow), or
	// its stream has ended.
	live  bool
	proxy int
}

func (o *logsOptions) run(ctx context.Context, s Streams) error {
	m, proxies, err := openProxies(ctx, &o.mesh, s)
	if err != nil {
		return err
	}
	defer m.Close()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	events := make(chan logEvent, 256)
	errs := make([]error, len(proxies))
	matched := make([]bool, len(proxies))
	var wg sync.WaitGroup
	for i, p := range proxies {
		wg.Add(1)
		go func() {
			defer wg.Done()
			matched[i], errs[i] = o.stream(ctx, m, p, i, events)
			send(ctx, events, logEvent{live: true, proxy: i}) // nothing more to wait for
		}()
	}
	go func() { wg.Wait(); close(events) }()
	w := bufio.NewWriter(s.Out)
	defer w.Flush()
	mg := &merger{o: o, out: w, errOut: s.Err, pending: make([]bool, len(proxies))}
	mg.run(ctx, events)
	cancel()
	wg.Wait() // the streams end with ctx
	return o.outcome(proxies, matched, errs, s.Err)
}

// outcome reports the proxies that failed; an error when any did, or when
// --workload matched none.
func (o *logsOptions) outcome(proxies []healthcheck.Proxy, matched []bool, errs []error, errOut io.Writer) error {
	failed := 0
	for i, err := range errs {
		if err != nil {
			failed++
			fmt.Fprintf(errOut, "meshctl logs: %s: %v\n", proxies[i], err)
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d proxies could not be read", failed, len(proxies))
	}
	if len(o.workloads) > 0 && !slices.Contains(matched, true) {
		return fmt.Errorf("no proxy of the workloads %s", strings.Join(o.workloads, ", "))
	}
	return nil
}

// query is the /logs query string for the options.
func (o *logsOptions) query() string {
	q := url.Values{}
	if o.since != "" {
		q.Set("since", o.since)
	}
	if o.trace != "" {
		q.Set("trace", o.trace)
	}
	if o.status != "" {
		q.Set("status", o.status)
	}
	if o.follow {
		q.Set("follow", "1")
	}
	return q.Encode()
}

// stream reads one proxy's /logs into events. It reports whether the
// proxy matched --workload.
func (o *logsOptions) stream(ctx context.Context, m *mesh, p healthcheck.Proxy, idx int, events chan<- logEvent) (bool, error) {
	client, tapURL, err := m.tapClient(ctx, p.Admin)
	if err != nil {
		return false, err
	}
	u := strings.TrimSuffix(tapURL, "/tap") + "/logs?" + o.query()
	reqCtx := ctx
	if !o.follow {
		var cancel context.CancelFunc
		reqCtx, cancel = context.WithTimeout(ctx, o.mesh.timeout)
		defer cancel()
	}
	req, err := http.NewRequestWithContext(reqCtx, http.MethodGet, u, nil)
	if err != nil {
		return false, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		return false, fmt.Errorf("GET /logs: %s: %s", resp.Status, strings.TrimSpace(string(body)))
	}
	name := proxyName(p, resp.Header)
	if !o.selects(p, name, resp.Header) {
		return false, nil
	}
	filter := accesslog.Filter{TraceID: o.trace}
	filter.Status, _ = accesslog.ParseStatus(o.status)
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for seq := 0; sc.Scan(); seq++ {
		l, ok := parseLogLine(sc.Bytes(), name, idx, seq)
		if !ok {
			continue
		}
		switch l.fields.Log {
		case "live":
			send(ctx, events, logEvent{live: true, proxy: idx})
			continue
		case "dropped":
			send(ctx, events, logEvent{line: l, proxy: idx})
			continue
		}
		if filter.Match(l.raw) { // the proxy filtered already; an older one may not have
			send(ctx, events, logEvent{line: l, proxy: idx})
		}
	}
	if ctx.Err() != nil {
		return true, nil
	}
	if err := sc.Err(); err != nil {
		return true, fmt.Errorf("reading /logs: %w", err)
	}
	if o.follow {
		return true, errors.New("the proxy ended the stream")
	}
	return true, nil
}

func send(ctx context.Context, events chan<- logEvent, e logEvent) {
	select {
	case events <- e:
	case <-ctx.Done():
	}
}

// proxyName names a proxy in the output: its workload's name, else the
// service account of its identity, else its admin address.
func proxyName(p healthcheck.Proxy, h http.Header) string {
	if p.Name != "" {
		return p.Name
	}
	if w := h.Get(accesslog.HeaderWorkload); w != "" {
		return w
	}
	if sa := serviceAccount(h.Get(accesslog.HeaderIdentity)); sa != "" {
		return sa
	}
	return p.Admin
}

// serviceAccount is the service account of spiffe://td/ns/N/sa/SA.
func serviceAccount(id string) string {
	if _, sa, ok := strings.Cut(id, "/sa/"); ok && !strings.Contains(sa, "/") {
		return sa
	}
	return ""
}

// selects reports whether --workload selects the proxy.
func (o *logsOptions) selects(p healthcheck.Proxy, name string, h http.Header) bool {
	if len(o.workloads) == 0 {
		return true
	}
	names := []string{name, p.Name, h.Get(accesslog.HeaderWorkload), serviceAccount(h.Get(accesslog.HeaderIdentity)), p.Admin}
	if p.Namespace != "" && p.Name != "" {
		names = append(names, p.Namespace+"/"+p.Name)
	}
	for _, w := range o.workloads {
		if w != "" && slices.Contains(names, w) {
			return true
		}
	}
	return false
}

// merger orders the lines of all proxies by the time their requests
// started: all kept lines at once, then (with --follow) each new line
// after it has waited --follow-window for earlier-started lines.
type merger struct {
	o       *logsOptions
	out     *bufio.Writer
	errOut  io.Writer
	pending []bool // proxy has not yet sent all its kept lines
	held    []*logLine
}

func (mg *merger) run(ctx context.Context, events <-chan logEvent) {
	for i := range mg.pending {
		mg.pending[i] = true
	}
	backlog := true
	var ticker *time.Ticker
	var tick <-chan time.Time
	defer func() {
		if ticker != nil {
			ticker.Stop()
		}
	}()
	for {
		select {
		case e, ok := <-events:
			if !ok {
				mg.flush(time.Time{})
				return
			}
			if e.live {
				mg.pending[e.proxy] = false
			} else if e.line.fields.Log == "dropped" {
				fmt.Fprintf(mg.errOut, "meshctl logs: %s: %d lines dropped (the proxy's stream queue was full)\n", e.line.proxy, e.line.fields.Dropped)
			} else {
				e.line.arrived = time.Now()
				mg.held = append(mg.held, e.line)
			}
			if backlog && mg.o.follow && !slices.Contains(mg.pending, true) {
				backlog = false
				mg.flush(time.Time{}) // every proxy's kept lines, in order
				ticker = time.NewTicker(min(200*time.Millisecond, max(mg.o.window/4, 10*time.Millisecond)))
				tick = ticker.C
			}
		case now := <-tick:
			mg.flush(now.Add(-mg.o.window))
		case <-ctx.Done():
			mg.flush(time.Time{})
			return
		}
	}
}

// flush writes, in start order, the held lines that arrived before
// cutoff (zero: all of them).
func (mg *merger) flush(cutoff time.Time) {
	var ready, keep []*logLine
	for _, l := range mg.held {
		if cutoff.IsZero() || l.arrived.Before(cutoff) {
			ready = append(ready, l)
		} else {
			keep = append(keep, l)
		}
	}
	mg.held = keep
	slices.SortStableFunc(ready, func(a, b *logLine) int {
		return cmp.Or(a.start.Compare(b.start), a.end.Compare(b.end), cmp.Compare(a.order, b.order), cmp.Compare(a.seq, b.seq))
	})
	for _, l := range ready {
		if mg.o.output == "json" {
			mg.out.Write(l.jsonLine())
		} else {
			mg.out.WriteString(l.text())
		}
		mg.out.WriteByte('\n')
	}
	mg.out.Flush()
}
