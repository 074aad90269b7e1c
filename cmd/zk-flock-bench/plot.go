package main

import (
	"errors"
	"fmt"
	"image/color"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// writePlot draws handoff latency (median, mean, p99) against the number of
// waiters, log-scaled, with the raw delete→watch→create floor and the
// 4× floor target for reference, and saves it as path (PNG or SVG by
// extension).
func writePlot(path string, r *results) error {
	var med, mean, p99 plotter.XYs
	for _, h := range r.herds {
		if len(h.Rounds) == 0 {
			continue
		}
		s := summarize(h.handoffs())
		x := float64(h.W)
		med = append(med, plotter.XY{X: x, Y: s.Median})
		mean = append(mean, plotter.XY{X: x, Y: s.Mean})
		p99 = append(p99, plotter.XY{X: x, Y: s.P99})
	}
	if len(med) == 0 {
		return errors.New("no handoff figures to plot")
	}
	p := plot.New()
	p.Title.Text = "zk-flock handoff latency against queued waiters"
	p.X.Label.Text = "waiters on one lock"
	p.Y.Label.Text = "command exit → next command start (ms)"
	p.X.Scale = plot.LogScale{}
	p.X.Tick.Marker = plot.LogTicks{Prec: -1}
	lo, hi := med[0].X, med[len(med)-1].X
	if hi <= lo {
		hi = lo * 10
	}
	p.X.Min, p.X.Max = lo/1.5, hi*1.5
	ymin, ymax := med[0].Y, med[0].Y
	for _, xy := range append(append(append(plotter.XYs{}, med...), mean...), p99...) {
		ymin, ymax = min(ymin, xy.Y), max(ymax, xy.Y)
	}
	if r.floors != nil {
		ymin = min(ymin, summarize(r.floors.DWC).Median)
	}
	// Room above the curves for the legend.
	if ymax/ymin > 30 {
		p.Y.Scale = plot.LogScale{}
		p.Y.Tick.Marker = plot.LogTicks{Prec: -1}
		p.Y.Min, p.Y.Max = ymin/2, ymax*8
	} else {
		p.Y.Min, p.Y.Max = 0, ymax*1.7
	}

	for i, s := range []struct {
		name string
		xys  plotter.XYs
	}{{"median", med}, {"mean", mean}, {"p99", p99}} {
		l, pts, err := plotter.NewLinePoints(s.xys)
		if err != nil {
			return err
		}
		l.Color = plotutil.Color(i)
		pts.Color = plotutil.Color(i)
		pts.Shape = plotutil.Shape(i)
		if s.name == "p99" {
			l.Dashes = []vg.Length{vg.Points(2), vg.Points(2)}
		}
		p.Add(l, pts)
		p.Legend.Add(s.name, l, pts)
	}
	if r.floors != nil {
		f, fi := summarize(r.floors.DWC).Median, summarize(r.floors.DWCIdle).Median
		for _, ref := range []struct {
			name string
			y    float64
			gray uint8
		}{
			{fmt.Sprintf("raw delete→watch→create floor (%.2f ms)", f), f, 90},
			{fmt.Sprintf("the same after %v idle (%.2f ms)", idleGap, fi), fi, 125},
			{"target: 4× the floor (one waiter)", 4 * f, 160},
		} {
			l, err := plotter.NewLine(plotter.XYs{{X: p.X.Min, Y: ref.y}, {X: p.X.Max, Y: ref.y}})
			if err != nil {
				return err
			}
			l.Color = color.Gray{Y: ref.gray}
			l.Dashes = []vg.Length{vg.Points(6), vg.Points(3)}
			p.Add(l)
			p.Legend.Add(ref.name, l)
		}
	}
	p.Legend.Top = true
	p.Legend.Left = true
	p.Add(plotter.NewGrid())
	return p.Save(7*vg.Inch, 4.5*vg.Inch, path)
}
