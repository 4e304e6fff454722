package main

import (
	"fmt"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// smoothHalfWidth is the half-width, in logged points, of the centered moving
// average of the training loss curves (charlm logs every 10 steps: 110 steps).
const smoothHalfWidth = 5

// writePlot draws the study's loss curves: for every configuration, the mean
// validation loss at each evaluation step (thick line with markers) and the
// mean training loss, smoothed (thin line of the same color). The y axis spans
// the validation losses, so the first training steps (loss near ln 256) are
// cut off. The format follows path's extension (.png, .svg, .pdf).
func writePlot(path string, s *studySummary) error {
	p := plot.New()
	p.Title.Text = fmt.Sprintf("charlm GG initialization study, %d steps", s.Steps)
	if s.Note != "" {
		p.Title.Text += " (quick profile)"
	}
	p.X.Label.Text = "step"
	p.Y.Label.Text = "loss (nats per byte)"
	p.Legend.Top = true
	p.Add(plotter.NewGrid())
	lo, hi := math.Inf(1), math.Inf(-1)
	for i, c := range s.Configs {
		color := plotutil.Color(i)
		train := smooth(c.trainCurve, smoothHalfWidth)
		if len(train) > 1 {
			line, err := plotter.NewLine(train)
			if err != nil {
				return fmt.Errorf("initstudy: plot of %s: %w", c.Name, err)
			}
			line.Color, line.Width = color, vg.Points(0.6)
			p.Add(line)
			for _, pt := range train {
				lo = math.Min(lo, pt.Y)
			}
		}
		val := make(plotter.XYs, len(c.ValLoss))
		for j, e := range c.ValLoss {
			val[j] = plotter.XY{X: float64(e.Step), Y: e.Mean}
			lo, hi = math.Min(lo, e.Mean), math.Max(hi, e.Mean)
		}
		line, points, err := plotter.NewLinePoints(val)
		if err != nil {
			return fmt.Errorf("initstudy: plot of %s: %w", c.Name, err)
		}
		line.Color, line.Width = color, vg.Points(1.6)
		points.Color, points.Shape, points.Radius = color, plotutil.Shape(i), vg.Points(3)
		p.Add(line, points)
		p.Legend.Add(c.Name, line, points)
	}
	if hi > lo {
		margin := 0.08 * (hi - lo)
		p.Y.Min, p.Y.Max = lo-margin, hi+2*margin
	}
	p.X.Min = 0
	if err := p.Save(8*vg.Inch, 5*vg.Inch, path); err != nil {
		return fmt.Errorf("initstudy: saving the plot: %w", err)
	}
	return nil
}

// smooth returns the centered moving average of curve ([x, y] points) over
// 2*half+1 points (fewer at the ends).
func smooth(curve [][2]float64, half int) plotter.XYs {
	out := make(plotter.XYs, len(curve))
	for i := range curve {
		lo, hi := max(0, i-half), min(len(curve)-1, i+half)
		var sum float64
		for _, p := range curve[lo : hi+1] {
			sum += p[1]
		}
		out[i] = plotter.XY{X: curve[i][0], Y: sum / float64(hi-lo+1)}
	}
	return out
}
