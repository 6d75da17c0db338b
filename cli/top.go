package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/meshlite/meshlite/internal/healthcheck"
	"github.com/meshlite/meshlite/internal/stats"
	"github.com/meshlite/meshlite/proxy/tap"
)

type topOptions struct {
	mesh      meshOptions
	interval  time.Duration
	duration  time.Duration
	sort      string
	direction string
	plain     bool
	maxRows   int
}

func (o *topOptions) validate() error {
	var errs []error
	if o.interval <= 0 {
		errs = append(errs, fmt.Errorf("--interval must be positive, got %v", o.interval))
	}
	if o.duration < 0 {
		errs = append(errs, fmt.Errorf("--duration must not be negative, got %v", o.duration))
	}
	if _, err := stats.ParseSortKey(o.sort); err != nil {
		errs = append(errs, fmt.Errorf("--sort: %w", err))
	}
	if !slices.Contains([]string{"auto", stats.DirectionInbound, stats.DirectionOutbound}, o.direction) {
		errs = append(errs, fmt.Errorf("--direction %q: want auto, inbound or outbound", o.direction))
	}
	if o.maxRows < 0 {
		errs = append(errs, fmt.Errorf("--max-rows must not be negative, got %d", o.maxRows))
	}
	if err := o.mesh.validateProxies(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func newTopCmd(s Streams) *cobra.Command {
	o := &topOptions{interval: time.Second, sort: string(stats.SortCount), direction: "auto"}
	cmd := &cobra.Command{
		Use:   "top",
		Short: "Show live requests through the proxies, aggregated by source, destination, method and path",
		Long: `top watches the tap streams of the proxies (every proxy the destination
service knows, and those given with --proxy) and shows, live, a table of
the requests they see:

  SOURCE        the caller: its identity (namespace/service-account) over
                mutual TLS, else its address
  DESTINATION   the server's identity, else the authority asked for
  METHOD, PATH
  COUNT         requests since top started
  BEST, WORST, LAST
                latencies
  SUCCESS_RATE  share of requests that succeeded

A request seen by two tapped proxies (the client's outbound, the server's
inbound) counts once, as the server saw it (--direction auto).

On a terminal it is a full-screen view: s or tab changes the sort key,
shift+tab goes back, q quits. Piped, or with --plain, it prints the same
table every --interval, a blank line after each, and once more at the end.
--duration stops it after a while. The proxies serve their tap to
operators only: on loopback, or over mutual TLS to an identity of the
namespace meshlite (give --identity-dir or --cert).`,
		Example: `  meshctl top --destination 10.201.0.2:8086 --identity-addr 10.201.0.2:8080 --identity-dir ./identity
  meshctl top --proxy 10.201.0.3:4191 --identity-addr 10.201.0.2:8080 --identity-dir ./identity --interval 1s --duration 10s | tee top.txt`,
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
	f.DurationVar(&o.interval, "interval", o.interval, "time between refreshes")
	f.DurationVar(&o.duration, "duration", 0, "stop after this long (0: until q or Ctrl-C)")
	f.StringVar(&o.sort, "sort", o.sort, "sort key: count, best, worst, last, success, source, destination, method or path")
	f.StringVar(&o.direction, "direction", o.direction, "requests counted: auto (each once), inbound or outbound")
	f.BoolVar(&o.plain, "plain", false, "print the table every --interval even on a terminal")
	f.IntVar(&o.maxRows, "max-rows", 0, "show at most this many rows (0: all; the terminal's height in full screen)")
	return cmd
}

// topState is the aggregation the tap readers feed and the views read.
type topState struct {
	mu        sync.Mutex
	top       *stats.Top
	proxies   int
	connected atomic.Int32
	lastErr   atomic.Pointer[string]
}

func (st *topState) add(e tap.Event) {
	st.mu.Lock()
	st.top.Add(e)
	st.mu.Unlock()
}

func (st *topState) rows(key stats.SortKey) ([]stats.TopRow, int) {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.top.Rows(key), st.top.Total()
}

// status says how many taps stream, and the last failure.
func (st *topState) status() string {
	s := fmt.Sprintf("tapping %d of %d proxies", st.connected.Load(), st.proxies)
	if e := st.lastErr.Load(); e != nil && int(st.connected.Load()) < st.proxies {
		s += "; " + *e
	}
	return s
}

func (o *topOptions) run(ctx context.Context, s Streams) error {
	m, proxies, err := openProxies(ctx, &o.mesh, s)
	if err != nil {
		return err
	}
	defer m.Close()
	if o.duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.duration)
		defer cancel()
	}
	dir := o.direction
	if dir == "auto" {
		dir = stats.DirectionDedup
	}
	st := &topState{top: stats.NewTop(dir, tappedAddrs(proxies)), proxies: len(proxies)}
	ctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() { stop(); wg.Wait() }()
	events := make(chan tap.Event, 1024)
	allConnected := make(chan struct{})
	var once sync.Once
	for _, p := range proxies {
		wg.Go(func() {
			m.tapLoop(ctx, p, events, st, func() {
				if int(st.connected.Add(1)) == len(proxies) {
					once.Do(func() { close(allConnected) })
				}
			})
		})
	}
	wg.Go(func() {
		for {
			select {
			case <-ctx.Done():
				return
			case e := <-events:
				st.add(e)
			}
		}
	})
	go func() {
		select {
		case <-allConnected:
			fmt.Fprintln(s.Err, st.status())
		case <-ctx.Done():
		}
	}()
	key, _ := stats.ParseSortKey(o.sort)
	if !o.plain && isTerminal(s.Out) && isTerminal(s.In) {
		return runTopUI(ctx, s, st, key, o.interval, o.maxRows)
	}
	return o.printLoop(ctx, s.Out, st, key)
}

// printLoop prints the table every interval until ctx is done, then once
// more.
func (o *topOptions) printLoop(ctx context.Context, w io.Writer, st *topState, key stats.SortKey) error {
	tick := time.NewTicker(o.interval)
	defer tick.Stop()
	print := func() error {
		rows, _ := st.rows(key)
		if err := stats.RenderTop(w, rows, o.maxRows); err != nil {
			return err
		}
		_, err := fmt.Fprintln(w)
		return err
	}
	for {
		select {
		case <-ctx.Done():
			// Let events already on their way in be counted.
			time.Sleep(50 * time.Millisecond)
			return print()
		case <-tick.C:
			if err := print(); err != nil {
				return err
			}
		}
	}
}

// tapLoop keeps a proxy's tap stream open until ctx is done, reconnecting
// after a second when it fails.
func (m *mesh) tapLoop(ctx context.Context, p healthcheck.Proxy, out chan<- tap.Event, st *topState, connected func()) {
	first := true
	for ctx.Err() == nil {
		err := m.tapStream(ctx, p.Admin, out, func() {
			if first {
				first = false
				connected()
			}
		})
		if err != nil && ctx.Err() == nil {
			msg := fmt.Sprintf("%s: %v", p, err)
			st.lastErr.Store(&msg)
		}
		retry := time.NewTimer(time.Second)
		select {
		case <-ctx.Done():
		case <-retry.C:
		}
		retry.Stop()
	}
}

// tappedAddrs are the proxies' addresses, so that top can tell which
// outbound requests a tapped proxy also sees inbound.
func tappedAddrs(proxies []healthcheck.Proxy) []netip.Addr {
	var out []netip.Addr
	for _, p := range proxies {
		if h, _, err := net.SplitHostPort(p.Admin); err == nil {
			if a, err := netip.ParseAddr(h); err == nil {
				out = append(out, a)
			}
		}
	}
	return out
}

// isTerminal reports whether v is a terminal.
func isTerminal(v any) bool {
	f, ok := v.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
