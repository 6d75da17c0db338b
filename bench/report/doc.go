// Package report turns a bench run's measurements (Results, also saved as
// JSON) into bench/RESULTS.md, the quick table, and the latency plot.
//
// Everything except WritePlot's file output is pure: Aggregate folds the
// repetitions of each topology × load point into medians and min–max
// spreads and pairs each repetition with direct's to get the added
// latency; Targets checks the project's goals; Markdown and Quick render.
//
//	res := &report.Results{...}           // or json.Unmarshal of results.json
//	md, err := report.Markdown(res)
//	err = report.WritePlot(res, report.PlotPoint, "bench/latency.png")
package report
