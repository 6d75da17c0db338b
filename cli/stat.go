package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/meshlite/meshlite/internal/healthcheck"
	"github.com/meshlite/meshlite/internal/stats"
)

// Groupings of meshctl stat.
const (
	byWorkload = "workload"
	byService  = "service"
)

type statOptions struct {
	mesh   meshOptions
	output string
	window time.Duration
	by     string
	names  []string
}

func (o *statOptions) validate() error {
	var errs []error
	if !slices.Contains([]string{outputTable, outputWide, outputJSON}, o.output) {
		errs = append(errs, fmt.Errorf("-o %q: want table, wide or json", o.output))
	}
	if o.window < 0 {
		errs = append(errs, fmt.Errorf("--window must not be negative, got %v", o.window))
	}
	if o.by != byWorkload && o.by != byService {
		errs = append(errs, fmt.Errorf("--by %q: want workload or service", o.by))
	}
	if err := o.mesh.validateProxies(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func newStatCmd(s Streams) *cobra.Command {
	o := &statOptions{output: outputTable, window: 10 * time.Second, by: byWorkload}
	cmd := &cobra.Command{
		Use:   "stat [NAME...]",
		Short: "Show each workload's success rate, request rate and latencies",
		Long: `stat reads the proxies' own metrics twice, --window apart, and shows per
workload (or, with --by service, per service that clients called):

  MESHED       proxies ready / proxies
  SUCCESS      share of inbound requests that succeeded (not 5xx, not reset,
               gRPC status 0)
  RPS          inbound requests per second over the window
  LATENCY_P50, LATENCY_P95, LATENCY_P99
               inbound latency percentiles, interpolated in the proxies'
               response_latency_ms histogram buckets
  TCP_CONN     inbound connections open now

-o wide adds the share of inbound requests over mutual TLS and the same
figures for outbound requests; -o json everything, with raw counts. With
--window 0 the figures cover everything since the proxies started (no
RPS). No Prometheus is needed. NAMEs keep only those workloads.`,
		Example: `  meshctl stat --destination 10.201.0.2:8086 --identity-addr 10.201.0.2:8080 --identity-dir ./identity
  meshctl stat --proxy 10.201.0.3:4191 --window 30s -o wide
  meshctl stat --destination 10.201.0.2:8086 --destination-insecure --by service -o json`,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.names = args
			if err := o.validate(); err != nil {
				return err
			}
			return o.run(cmd.Context(), s)
		},
	}
	f := cmd.Flags()
	o.mesh.addFlags(f)
	f.StringVarP(&o.output, "output", "o", o.output, "output format: table, wide or json")
	f.DurationVar(&o.window, "window", o.window, "time between the two reads of the metrics (0: totals since the proxies started)")
	f.StringVar(&o.by, "by", o.by, "group by workload, or by service (the authority clients asked for)")
	return cmd
}

func (o *statOptions) run(ctx context.Context, s Streams) error {
	m, proxies, err := openProxies(ctx, &o.mesh, s)
	if err != nil {
		return err
	}
	defer m.Close()
	var before []stats.Scrape
	if o.window > 0 {
		before = m.scrapeAll(ctx, proxies, s.Err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(o.window):
		}
	}
	after := m.scrapeAll(ctx, proxies, s.Err)
	var rows []stats.WorkloadStat
	if o.by == byService {
		rows = stats.Services(before, after, o.window)
	} else {
		rows = stats.Workloads(before, after, o.window)
	}
	if len(o.names) > 0 {
		rows = slices.DeleteFunc(rows, func(r stats.WorkloadStat) bool { return !slices.Contains(o.names, r.Name) })
	}
	return renderStat(s.Out, o.output, o.by, rows)
}

// renderStat writes rows in the output format.
func renderStat(w io.Writer, output, by string, rows []stats.WorkloadStat) error {
	switch {
	case output == outputJSON:
		return stats.WriteJSON(w, stats.StatJSONRows(rows))
	case by == byService:
		return stats.RenderServices(w, rows, output == outputWide)
	}
	return stats.RenderStat(w, rows, output == outputWide)
}

// scrapeAll reads every proxy's /ready and /metrics at once; failures are
// reported on errw and leave the proxy without metrics.
func (m *mesh) scrapeAll(ctx context.Context, proxies []healthcheck.Proxy, errw io.Writer) []stats.Scrape {
	out := make([]stats.Scrape, len(proxies))
	errs := make([]error, len(proxies))
	var wg sync.WaitGroup
	for i, p := range proxies {
		wg.Go(func() {
			sc := stats.Scrape{Proxy: stats.Proxy{Admin: p.Admin, Namespace: p.Namespace, Name: p.Name, Identity: p.Identity}}
			sc.Ready = m.ready(ctx, p) == nil
			sc.Metrics, errs[i] = m.metrics(ctx, p.Admin)
			out[i] = sc
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			fmt.Fprintf(errw, "warning: %s: %v\n", proxies[i], err)
		}
	}
	return out
}
