package stats

import (
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"
)

// table writes rows under header in columns two spaces apart.
func table(w io.Writer, header []string, rows [][]string) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	return tw.Flush()
}

// FormatMs renders a latency in milliseconds: "0.8ms", "12.3ms",
// "250ms", "1.50s"; "-" for NaN.
func FormatMs(v float64) string {
	switch {
	case math.IsNaN(v):
		return "-"
	case v < 100:
		return fmt.Sprintf("%.1fms", v)
	case v < 1000:
		return fmt.Sprintf("%.0fms", v)
	}
	return fmt.Sprintf("%.2fs", v/1000)
}

// FormatPercent renders a share (0 to 1) as "99.50%"; "-" for NaN.
func FormatPercent(v float64) string {
	if math.IsNaN(v) {
		return "-"
	}
	return fmt.Sprintf("%.2f%%", 100*v)
}

// TopHeader is the header of top's table.
var TopHeader = []string{"SOURCE", "DESTINATION", "METHOD", "PATH", "COUNT", "BEST", "WORST", "LAST", "SUCCESS_RATE"}

// TopCells are a row's cells under TopHeader.
func TopCells(r TopRow) []string {
	return []string{r.Source, r.Destination, r.Method, r.Path, fmt.Sprint(r.Count),
		FormatMs(r.Best), FormatMs(r.Worst), FormatMs(r.Last), FormatPercent(r.SuccessRate())}
}

// RenderTop writes top's table; limit > 0 keeps only the first rows.
func RenderTop(w io.Writer, rows []TopRow, limit int) error {
	if limit > 0 && len(rows) > limit {
		rows = rows[:limit]
	}
	cells := make([][]string, len(rows))
	for i, r := range rows {
		cells[i] = TopCells(r)
	}
	return table(w, TopHeader, cells)
}
