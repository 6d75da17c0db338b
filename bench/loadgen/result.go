package loadgen

import (
	"encoding/json"
	"math"
	"time"
)

// Result is the outcome of one Run over its measured window.
type Result struct {
	// Target describes the target, if it is a fmt.Stringer.
	Target string
	// Rate is the requested rate; 0 means closed loop.
	Rate float64
	// Connections and MaxInFlight are the values used.
	Connections, MaxInFlight int
	// Warmup and Duration are the requested windows.
	Warmup, Duration time.Duration
	// Elapsed is from the start of the measured window to the last
	// completion, and at least Duration.
	Elapsed time.Duration
	// Requests counts requests sent in the window, successes and errors.
	Requests int64
	// Errors counts failed requests; ErrorKinds splits them by kind
	// ("status 500", "refused", "reset", "eof", "timeout", "grpc Unavailable",
	// ...).
	Errors     int64
	ErrorKinds map[string]int64
	// Unsent counts sends scheduled in the window but never made because
	// Drain ran out: the target could not keep up.
	Unsent int64
	// Achieved is Requests / Elapsed, in requests per second.
	Achieved float64
	// Latency is successful requests' latency, from the scheduled send time
	// (corrected for coordinated omission) in open loop.
	Latency Summary
	// Service is the same requests' latency from their actual send: what a
	// tool without the correction reports.
	Service Summary
	// Lag is how late requests were sent relative to their schedule; a
	// large lag means the target (or the generator) could not keep up.
	Lag Summary

	hist     *Histogram  // Latency's histogram, nil after JSON decoding
	spectrum []plotPoint // percentile curve, when decoded from JSON
}

// Summary condenses a latency distribution.
type Summary struct {
	Min, P50, P90, P99, P999, Max, Mean time.Duration
}

func summarize(h *Histogram) Summary {
	return Summary{
		Min: h.Min(), P50: h.Percentile(50), P90: h.Percentile(90), P99: h.Percentile(99),
		P999: h.Percentile(99.9), Max: h.Max(), Mean: h.Mean(),
	}
}

// PlotPercentiles are the percentiles stored in Result's JSON curve.
var PlotPercentiles = []float64{0, 10, 25, 50, 75, 90, 95, 99, 99.5, 99.9, 99.95, 99.99, 99.999, 100}

// Histogram returns the latency histogram, or nil for a Result decoded from
// JSON. Use it to merge runs.
func (r *Result) Histogram() *Histogram { return r.hist }

// Percentiles returns the latency at each percentile in ps (0 to 100), for
// plots. A Result decoded from JSON answers from its stored curve, rounding
// each p up to the next stored percentile.
func (r *Result) Percentiles(ps []float64) []time.Duration {
	if r.hist != nil {
		return r.hist.Percentiles(ps)
	}
	out := make([]time.Duration, len(ps))
	for i, p := range ps {
		for _, pt := range r.spectrum {
			out[i] = fromMicros(pt.Micros)
			if pt.P >= p {
				break
			}
		}
	}
	return out
}

// JSON form: durations are float microseconds or seconds, named so.
type (
	wireResult struct {
		Target      string           `json:"target,omitempty"`
		Rate        float64          `json:"rate"`
		Connections int              `json:"connections"`
		MaxInFlight int              `json:"max_in_flight"`
		WarmupS     float64          `json:"warmup_s"`
		DurationS   float64          `json:"duration_s"`
		ElapsedS    float64          `json:"elapsed_s"`
		Requests    int64            `json:"requests"`
		Errors      int64            `json:"errors"`
		ErrorKinds  map[string]int64 `json:"error_kinds"`
		Unsent      int64            `json:"unsent"`
		Achieved    float64          `json:"achieved_rate"`
		Latency     wireSummary      `json:"latency_us"`
		Service     wireSummary      `json:"service_us"`
		Lag         wireSummary      `json:"lag_us"`
		Spectrum    []plotPoint      `json:"percentiles_us"`
	}
	wireSummary struct {
		Min  float64 `json:"min"`
		P50  float64 `json:"p50"`
		P90  float64 `json:"p90"`
		P99  float64 `json:"p99"`
		P999 float64 `json:"p99.9"`
		Max  float64 `json:"max"`
		Mean float64 `json:"mean"`
	}
	plotPoint struct {
		P      float64 `json:"p"`
		Micros float64 `json:"us"`
	}
)

func micros(d time.Duration) float64      { return math.Round(float64(d)/1e2) / 10 } // 0.1µs
func fromMicros(us float64) time.Duration { return time.Duration(math.Round(us * 1e3)) }
func seconds(d time.Duration) float64     { return d.Seconds() }
func fromSeconds(s float64) time.Duration { return time.Duration(math.Round(s * 1e9)) }

func (s Summary) wire() wireSummary {
	return wireSummary{micros(s.Min), micros(s.P50), micros(s.P90), micros(s.P99), micros(s.P999), micros(s.Max), micros(s.Mean)}
}

func (w wireSummary) summary() Summary {
	return Summary{fromMicros(w.Min), fromMicros(w.P50), fromMicros(w.P90), fromMicros(w.P99),
		fromMicros(w.P999), fromMicros(w.Max), fromMicros(w.Mean)}
}

// MarshalJSON encodes r with durations as microseconds ("*_us") or seconds
// ("*_s") and a percentile curve at PlotPercentiles.
func (r *Result) MarshalJSON() ([]byte, error) {
	w := wireResult{
		Target: r.Target, Rate: r.Rate, Connections: r.Connections, MaxInFlight: r.MaxInFlight,
		WarmupS: seconds(r.Warmup), DurationS: seconds(r.Duration), ElapsedS: seconds(r.Elapsed),
		Requests: r.Requests, Errors: r.Errors, ErrorKinds: r.ErrorKinds, Unsent: r.Unsent,
		Achieved: math.Round(r.Achieved*100) / 100,
		Latency:  r.Latency.wire(), Service: r.Service.wire(), Lag: r.Lag.wire(),
		Spectrum: r.spectrum,
	}
	if r.hist != nil {
		w.Spectrum = make([]plotPoint, len(PlotPercentiles))
		for i, d := range r.hist.Percentiles(PlotPercentiles) {
			w.Spectrum[i] = plotPoint{P: PlotPercentiles[i], Micros: micros(d)}
		}
	}
	if w.ErrorKinds == nil {
		w.ErrorKinds = map[string]int64{}
	}
	return json.Marshal(w)
}

// UnmarshalJSON decodes what MarshalJSON encodes. The histogram is not
// stored, so Histogram returns nil and Percentiles uses the stored curve.
func (r *Result) UnmarshalJSON(b []byte) error {
	var w wireResult
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*r = Result{
		Target: w.Target, Rate: w.Rate, Connections: w.Connections, MaxInFlight: w.MaxInFlight,
		Warmup: fromSeconds(w.WarmupS), Duration: fromSeconds(w.DurationS), Elapsed: fromSeconds(w.ElapsedS),
		Requests: w.Requests, Errors: w.Errors, ErrorKinds: w.ErrorKinds, Unsent: w.Unsent,
		Achieved: w.Achieved, Latency: w.Latency.summary(), Service: w.Service.summary(), Lag: w.Lag.summary(),
		spectrum: w.Spectrum,
	}
	return nil
}
