// Package promtext reads Prometheus text exposition, as the proxies serve
// it on /metrics, and sums series by label subsets. meshctl computes its
// statistics with it from the proxies' own metrics; tests use it to check
// what a proxy counted.
package promtext

import (
	"fmt"
	"io"
	"strings"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Families are parsed metric families by name.
type Families map[string]*dto.MetricFamily

// Parse reads a text exposition.
func Parse(r io.Reader) (Families, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(r)
	if err != nil {
		return nil, fmt.Errorf("promtext: %w", err)
	}
	return Families(mfs), nil
}

// ParseString is Parse on a string.
func ParseString(s string) (Families, error) { return Parse(strings.NewReader(s)) }

// Matches reports whether m carries every label of want with its value; a
// label absent from m has the value "".
func Matches(m *dto.Metric, want map[string]string) bool {
	for k, v := range want {
		if Label(m, k) != v {
			return false
		}
	}
	return true
}

// Sum adds up the values of name's series that match want: counters and
// gauges by value, histograms and summaries by sample count.
func (f Families) Sum(name string, want map[string]string) float64 {
	mf, ok := f[name]
	if !ok {
		return 0
	}
	var total float64
	for _, m := range mf.GetMetric() {
		if !Matches(m, want) {
			continue
		}
		switch {
		case m.Counter != nil:
			total += m.GetCounter().GetValue()
		case m.Gauge != nil:
			total += m.GetGauge().GetValue()
		case m.Untyped != nil:
			total += m.GetUntyped().GetValue()
		case m.Histogram != nil:
			total += float64(m.GetHistogram().GetSampleCount())
		case m.Summary != nil:
			total += float64(m.GetSummary().GetSampleCount())
		}
	}
	return total
}

// Label returns the value of label on m, or "".
func Label(m *dto.Metric, label string) string {
	for _, lp := range m.GetLabel() {
		if lp.GetName() == label {
			return lp.GetValue()
		}
	}
	return ""
}
