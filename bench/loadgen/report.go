package loadgen

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// WriteTable renders r for people: the load, the counts, and one row of
// percentiles per latency kind.
func (r *Result) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	var b strings.Builder
	if r.Target != "" {
		fmt.Fprintf(&b, "target:   %s\n", r.Target)
	}
	mode := "closed loop"
	if r.Rate > 0 {
		mode = fmt.Sprintf("open loop %g req/s", r.Rate)
	}
	fmt.Fprintf(&b, "load:     %s, %d connections, %d in flight max, warmup %v, window %v\n",
		mode, r.Connections, r.MaxInFlight, r.Warmup, r.Duration)
	fmt.Fprintf(&b, "requests: %d in %v = %.1f req/s, %d errors, %d unsent\n",
		r.Requests, r.Elapsed.Round(time.Millisecond), r.Achieved, r.Errors, r.Unsent)
	if len(r.ErrorKinds) > 0 {
		kinds := make([]string, 0, len(r.ErrorKinds))
		for k := range r.ErrorKinds {
			kinds = append(kinds, k)
		}
		slices.Sort(kinds)
		for i, k := range kinds {
			kinds[i] = fmt.Sprintf("%s=%d", k, r.ErrorKinds[k])
		}
		fmt.Fprintf(&b, "errors:   %s\n", strings.Join(kinds, " "))
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return err
	}
	fmt.Fprintf(tw, "%-8s\tmin\tp50\tp90\tp99\tp99.9\tmax\tmean\t\n", "")
	type row struct {
		name string
		s    Summary
	}
	rows := []row{{"latency", r.Latency}, {"service", r.Service}}
	if r.Rate > 0 {
		rows = append(rows, row{"send lag", r.Lag})
	}
	for _, row := range rows {
		s := row.s
		fmt.Fprintf(tw, "%-8s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", row.name, FormatDuration(s.Min),
			FormatDuration(s.P50), FormatDuration(s.P90), FormatDuration(s.P99),
			FormatDuration(s.P999), FormatDuration(s.Max), FormatDuration(s.Mean))
	}
	return tw.Flush()
}

// FormatDuration prints d with four significant digits in µs, ms or s.
func FormatDuration(d time.Duration) string {
	switch {
	case d < time.Millisecond:
		return fmt.Sprintf("%.1fµs", float64(d)/1e3)
	case d < time.Second:
		return fmt.Sprintf("%.3fms", float64(d)/1e6)
	}
	return fmt.Sprintf("%.4fs", d.Seconds())
}
