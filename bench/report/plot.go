package report

import (
	"fmt"
	"image/color"
	"math"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"

	"github.com/meshlite/meshlite/bench/workload"
)

// Nines maps a percentile to the "nines" axis: -log10(1 - p/100), so 90
// is 1, 99 is 2, 99.9 is 3. 100 has no place on it (+Inf).
func Nines(p float64) float64 { return -math.Log10(1 - p/100) }

// ninesTicks labels the nines axis at 0, 50, 90, 99, ... percent.
type ninesTicks struct{}

func (ninesTicks) Ticks(lo, hi float64) []plot.Tick {
	var out []plot.Tick
	for _, p := range []float64{0, 50, 90, 99, 99.9, 99.99, 99.999} {
		if x := Nines(p); x >= lo-1e-9 && x <= hi+1e-9 {
			out = append(out, plot.Tick{Value: x, Label: strconv.FormatFloat(p, 'f', -1, 64) + "%"})
		}
	}
	return out
}

// palette tells the topologies apart.
var palette = []color.RGBA{
	{0, 0, 0, 255}, {213, 94, 0, 255}, {0, 114, 178, 255}, {0, 158, 115, 255},
	{204, 121, 167, 255}, {230, 159, 0, 255}, {86, 180, 233, 255},
}

// CurveSeries returns, per topology (in report order), the median latency
// curve at point p in milliseconds against nines, keeping percentiles the
// run had enough samples for (1/(1-p) ≤ samples) and below 100.
func CurveSeries(res *Results, p workload.Point) (names []string, series []plotter.XYs) {
	groups := Aggregate(res.Latency, topologyNames(res))
	for _, g := range groups {
		if g.Point != p {
			continue
		}
		for _, c := range g.Cells {
			var xy plotter.XYs
			for _, pt := range c.Curve {
				if pt.P >= 100 || math.IsNaN(pt.US) || 1/(1-pt.P/100) > float64(c.Samples) {
					continue
				}
				xy = append(xy, plotter.XY{X: Nines(pt.P), Y: pt.US / 1000})
			}
			if len(xy) > 0 {
				names = append(names, c.Topology)
				series = append(series, xy)
			}
		}
	}
	return names, series
}

// WritePlot draws the latency-by-percentile plot of point p (x: percentile
// on the nines scale, y: latency in ms on a log scale, one line per
// topology) as a PNG at path.
func WritePlot(res *Results, p workload.Point, path string) error {
	names, series := CurveSeries(res, p)
	if len(series) == 0 {
		return fmt.Errorf("report: plot: no runs at %s", p.Key())
	}
	w, _ := workload.Lookup(p.Workload)
	pl := plot.New()
	pl.Title.Text = fmt.Sprintf("%s — %s (median of %d rep.)", w.Title, p.Label(), max(res.Meta.Reps, 1))
	pl.X.Label.Text = "percentile"
	pl.Y.Label.Text = "latency (ms, log scale)"
	pl.X.Tick.Marker = ninesTicks{}
	pl.Y.Scale = plot.LogScale{}
	pl.Y.Tick.Marker = plot.LogTicks{Prec: -1}
	pl.Legend.Top = false // bottom right: the curves rise to the right
	pl.Legend.Left = false
	pl.Add(plotter.NewGrid())
	for i, xy := range series {
		for j := range xy {
			xy[j].Y = math.Max(xy[j].Y, 1e-3) // log scale: no zeros
		}
		line, points, err := plotter.NewLinePoints(xy)
		if err != nil {
			return fmt.Errorf("report: plot: %w", err)
		}
		c := palette[i%len(palette)]
		line.Color, points.Color = c, c
		line.Width = vg.Points(1.5)
		points.Radius = vg.Points(2)
		pl.Add(line, points)
		pl.Legend.Add(names[i], line, points)
	}
	if err := pl.Save(9*vg.Inch, 5.5*vg.Inch, path); err != nil {
		return fmt.Errorf("report: plot: %w", err)
	}
	return nil
}
