package measure

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// SumMetric sums the samples of the metric name in a Prometheus text
// exposition whose label sets contain every one of labels, each written
// as in the exposition (`result="timeout"`); no labels means all samples.
// ok is false when none matched.
func SumMetric(text, name string, labels ...string) (sum float64, ok bool) {
	for line := range strings.SplitSeq(text, "\n") {
		if !strings.HasPrefix(line, name) {
			continue
		}
		rest := line[len(name):]
		if rest == "" || (rest[0] != ' ' && rest[0] != '{') {
			continue // a longer name with this prefix
		}
		set := ""
		if rest[0] == '{' {
			end := strings.LastIndexByte(rest, '}')
			if end < 0 {
				continue
			}
			set, rest = rest[:end+1], rest[end+1:]
		}
		if !hasAll(set, labels) {
			continue
		}
		f := strings.Fields(rest)
		if len(f) == 0 {
			continue
		}
		v, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			continue
		}
		sum += v
		ok = true
	}
	return sum, ok
}

// hasAll reports whether the label set contains every label.
func hasAll(set string, labels []string) bool {
	for _, l := range labels {
		if !strings.Contains(set, l) {
			return false
		}
	}
	return true
}

// Scrape fetches url and returns SumMetric of name and labels; a metric
// with no sample (yet) counts as 0 when labels are given.
func Scrape(ctx context.Context, url, name string, labels ...string) (float64, error) {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, fmt.Errorf("measure: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, fmt.Errorf("measure: scrape: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return 0, fmt.Errorf("measure: scrape: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("measure: scrape %s: %s", url, resp.Status)
	}
	v, ok := SumMetric(string(b), name, labels...)
	if !ok && len(labels) == 0 {
		return 0, fmt.Errorf("measure: scrape %s: no %s", url, name)
	}
	return v, nil
}
