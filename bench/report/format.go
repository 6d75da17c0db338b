package report

import (
	"fmt"
	"math"
	"strings"
)

// dash stands for a missing value.
const dash = "–"

// ms renders µs as milliseconds with three decimals (µs resolution).
func ms(us float64) string {
	if math.IsNaN(us) {
		return dash
	}
	return fmt.Sprintf("%.3f", us/1000)
}

// statMS renders a latency Stat: the median, and the min–max spread when
// there was more than one repetition.
func statMS(s Stat) string {
	if s.N == 0 {
		return dash
	}
	if s.N == 1 || s.Min == s.Max {
		return ms(s.Med)
	}
	return fmt.Sprintf("%s (%s–%s)", ms(s.Med), ms(s.Min), ms(s.Max))
}

// addMS renders an added latency with its sign.
func addMS(s Stat) string {
	if s.N == 0 {
		return dash
	}
	return signed(s.Med/1000, 3)
}

// addMSSpread is addMS with the spread.
func addMSSpread(s Stat) string {
	if s.N <= 1 || s.Min == s.Max {
		return addMS(s)
	}
	return fmt.Sprintf("%s (%s…%s)", addMS(s), signed(s.Min/1000, 3), signed(s.Max/1000, 3))
}

func signed(v float64, prec int) string {
	s := fmt.Sprintf("%+.*f", prec, v)
	if strings.TrimLeft(s, "+-0.") == "" {
		return fmt.Sprintf("%.*f", prec, 0.0) // no "-0.000"
	}
	return s
}

// mb renders bytes as decimal megabytes (10^6) with one decimal.
func mb(b float64) string {
	if math.IsNaN(b) || b <= 0 {
		return dash
	}
	return fmt.Sprintf("%.1f", b/1e6)
}

// num renders v with prec decimals, or a dash.
func num(v float64, prec int) string {
	if math.IsNaN(v) {
		return dash
	}
	return fmt.Sprintf("%.*f", prec, v)
}

// pair joins a client and a server value: "1.2 · 3.4". A single side is
// shown alone; none is a dash.
func pair(sides []SideUsage, f func(SideUsage) string) string {
	if len(sides) == 0 {
		return dash
	}
	parts := make([]string, len(sides))
	for i, s := range sides {
		parts[i] = f(s)
	}
	return strings.Join(parts, " · ")
}

// table renders a markdown table whose first left columns are text
// (left-aligned) and the rest numbers (right-aligned).
func table(b *strings.Builder, left int, header []string, rows [][]string) {
	line := func(cells []string) {
		b.WriteString("| ")
		b.WriteString(strings.Join(cells, " | "))
		b.WriteString(" |\n")
	}
	line(header)
	sep := make([]string, len(header))
	for i := range sep {
		sep[i] = "---"
		if i >= left {
			sep[i] = "--:"
		}
	}
	line(sep)
	for _, r := range rows {
		line(r)
	}
}
