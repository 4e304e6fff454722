package study

import (
	"fmt"
	"github.com/ggprior/ggprior/internal/distfit"
	"image/color"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// smoothHalfWidth is the half-width, in logged points, of the centered moving
// average of the training loss curves (charlm logs every 10 steps: 110 steps).
const smoothHalfWidth = 5

// WriteLossPlot draws the study's loss curves: for every configuration, the
// mean validation loss at each evaluation step (thick line with markers) and
// the mean training loss, smoothed (thin line of the same color). The y axis
// spans the validation losses, so the first training steps (loss near ln 256)
// are cut off. The title gets " (quick profile)" for a quick profile. The
// format follows path's extension (.png, .svg, .pdf).
func WriteLossPlot(path string, s *Summary, title string) error {
	p := plot.New()
	p.Title.Text = title
	if s.Note != "" {
		p.Title.Text += " (quick profile)"
	}
	p.X.Label.Text = "step"
	p.Y.Label.Text = "loss (nats per byte)"
	p.X.Tick.Marker, p.Y.Tick.Marker = distfit.PreciseTicks{}, distfit.PreciseTicks{}
	p.Legend.Top = true
	p.Add(plotter.NewGrid())
	lo, hi := math.Inf(1), math.Inf(-1)
	for i, c := range s.Configs {
		color := plotutil.Color(i)
		train := smooth(c.TrainCurve, smoothHalfWidth)
		if len(train) > 1 {
			line, err := plotter.NewLine(train)
			if err != nil {
				return fmt.Errorf("plot of %s: %w", c.Name, err)
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
			return fmt.Errorf("plot of %s: %w", c.Name, err)
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
		return fmt.Errorf("saving the plot: %w", err)
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

// XYSeries is a named set of points of an XYPlot, drawn as markers joined by
// a line (markers alone for one point).
type XYSeries struct {
	Name   string
	Points [][2]float64
	// Labels, if not nil, label each point (e.g. a setting: "0.95").
	Labels []string
}

// XYPlot is a plot of one measurement against another (e.g. validation loss
// against coded bits, or against sparsity): series of points, and horizontal
// reference lines (e.g. the baseline's loss).
type XYPlot struct {
	Title, XLabel, YLabel string
	// LogX draws the x axis on a log scale (all x must be > 0).
	LogX   bool
	Series []XYSeries
	// HLines are horizontal dashed lines at Y, named in the legend.
	HLines []HLine
}

// HLine is a named horizontal reference line of an XYPlot.
type HLine struct {
	Name string
	Y    float64
}

// Save draws the plot into path, in the format of its extension (.png, .svg, .pdf).
func (x *XYPlot) Save(path string) error {
	p := plot.New()
	p.Title.Text, p.X.Label.Text, p.Y.Label.Text = x.Title, x.XLabel, x.YLabel
	p.X.Tick.Marker, p.Y.Tick.Marker = distfit.PreciseTicks{}, distfit.PreciseTicks{}
	p.Legend.Top = true
	p.Add(plotter.NewGrid())
	if x.LogX {
		p.X.Scale = plot.LogScale{}
		p.X.Tick.Marker = plot.LogTicks{Prec: -1}
	}
	xmin, xmax := math.Inf(1), math.Inf(-1)
	n := 0
	for i, s := range x.Series {
		pts := make(plotter.XYs, len(s.Points))
		for j, pt := range s.Points {
			if x.LogX && !(pt[0] > 0) {
				return fmt.Errorf("plot %q: series %s has x = %g on a log axis", x.Title, s.Name, pt[0])
			}
			pts[j] = plotter.XY{X: pt[0], Y: pt[1]}
			xmin, xmax = math.Min(xmin, pt[0]), math.Max(xmax, pt[0])
			n++
		}
		if len(pts) == 0 {
			continue
		}
		c := plotutil.Color(i)
		points, err := plotter.NewScatter(pts)
		if err != nil {
			return fmt.Errorf("plot %q, series %s: %w", x.Title, s.Name, err)
		}
		points.Color, points.Shape, points.Radius = c, plotutil.Shape(i), vg.Points(4)
		p.Add(points)
		if len(pts) > 1 {
			line, err := plotter.NewLine(pts)
			if err != nil {
				return fmt.Errorf("plot %q, series %s: %w", x.Title, s.Name, err)
			}
			line.Color, line.Width = c, vg.Points(1.2)
			p.Add(line)
			p.Legend.Add(s.Name, line, points)
		} else {
			p.Legend.Add(s.Name, points)
		}
		if len(s.Labels) == len(s.Points) {
			labels, err := plotter.NewLabels(plotter.XYLabels{XYs: pts, Labels: s.Labels})
			if err != nil {
				return fmt.Errorf("plot %q, series %s: %w", x.Title, s.Name, err)
			}
			for k := range labels.TextStyle {
				labels.TextStyle[k].XAlign, labels.TextStyle[k].YAlign = draw.XLeft, draw.YBottom
			}
			labels.Offset = vg.Point{X: vg.Points(4), Y: vg.Points(2)}
			p.Add(labels)
		}
	}
	if n == 0 {
		return fmt.Errorf("plot %q: no points", x.Title)
	}
	if xmin == xmax {
		xmin, xmax = xmin*0.9, xmax*1.1
		if xmin == 0 {
			xmin, xmax = -1, 1
		}
	}
	// Margins, so that no point sits on an edge (the legend is at the top).
	if x.LogX {
		p.X.Min, p.X.Max = xmin/1.3, xmax*1.3
	} else {
		p.X.Min, p.X.Max = xmin-0.06*(xmax-xmin), xmax+0.06*(xmax-xmin)
	}
	ymin, ymax := math.Inf(1), math.Inf(-1)
	for _, s := range x.Series {
		for _, pt := range s.Points {
			ymin, ymax = math.Min(ymin, pt[1]), math.Max(ymax, pt[1])
		}
	}
	for _, h := range x.HLines {
		ymin, ymax = math.Min(ymin, h.Y), math.Max(ymax, h.Y)
	}
	if span := ymax - ymin; span > 0 {
		p.Y.Min, p.Y.Max = ymin-0.08*span, ymax+0.25*span
	}
	for _, h := range x.HLines {
		line, err := plotter.NewLine(plotter.XYs{{X: p.X.Min, Y: h.Y}, {X: p.X.Max, Y: h.Y}})
		if err != nil {
			return fmt.Errorf("plot %q, line %s: %w", x.Title, h.Name, err)
		}
		line.Color, line.Dashes, line.Width = color.Gray{Y: 80}, []vg.Length{vg.Points(4), vg.Points(3)}, vg.Points(1)
		p.Add(line)
		p.Legend.Add(h.Name, line)
	}
	if err := p.Save(8*vg.Inch, 5*vg.Inch, path); err != nil {
		return fmt.Errorf("saving the plot %q: %w", x.Title, err)
	}
	return nil
}
