package distfit

import (
	"fmt"
	"image/color"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/ggprior/ggprior/ggx"
	"github.com/ggprior/ggprior/internal/tensorkind"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Plot sizes and resolution of the curves.
const (
	plotWidth   = 6 * vg.Inch
	plotHeight  = 4 * vg.Inch
	histBins    = 120
	curvePoints = 400
	// histTail is the probability left out at each end of the histogram's range:
	// heavy tails would otherwise squeeze the bulk into a few bins.
	histTail = 0.0005
)

// Line styles of the three models in the plots.
var modelStyles = map[string]struct {
	label  string
	color  color.Color
	dashes []vg.Length
}{
	ModelGG:        {"GG", color.RGBA{R: 214, G: 39, B: 40, A: 255}, nil},
	ModelGaussian:  {"Gaussian", color.RGBA{R: 31, G: 119, B: 180, A: 255}, []vg.Length{vg.Points(6), vg.Points(3)}},
	ModelLaplacian: {"Laplacian", color.RGBA{R: 44, G: 160, B: 44, A: 255}, []vg.Length{vg.Points(2), vg.Points(2)}},
}

// PlotTensor draws the histogram of sample (the values fitted for report r) as a
// density on a log-scale y axis, with the densities of the three fitted models
// (GG by maximum likelihood, Gaussian, Laplacian) overlaid, titled with the
// tensor's name, the fitted shape and the best model; it saves the plot to path
// in the format of its extension (.png, .svg, .pdf, ...).
//
// On a log scale the GG density is the curve -|x|^beta: a parabola for the
// Gaussian, a tent for the Laplacian, a cusp for beta < 1, so the tails show
// which model fits. The histogram covers the central 99.9% of the values,
// centered on the fitted location; densities are normalized by the full sample
// size, so they compare with the model densities directly.
func PlotTensor(path string, sample []float64, r TensorReport) error {
	if len(sample) == 0 {
		return fmt.Errorf("analysis: plot of %q: no values", r.Name)
	}
	sorted := append([]float64(nil), sample...)
	sort.Float64s(sorted)
	mu := r.MLE.Mu
	lo, hi := sorted[int(histTail*float64(len(sorted)-1))], sorted[int((1-histTail)*float64(len(sorted)-1))]
	half := math.Max(mu-lo, hi-mu)
	if !(half > 0) {
		half = math.Max(mu-sorted[0], sorted[len(sorted)-1]-mu)
	}
	if !(half > 0) || math.IsInf(half, 0) {
		return fmt.Errorf("analysis: plot of %q: values have no spread", r.Name)
	}
	xmin, xmax := mu-half, mu+half
	width := (xmax - xmin) / histBins
	bins := make([]plotter.HistogramBin, histBins)
	for i := range bins {
		bins[i].Min = xmin + float64(i)*width
		bins[i].Max = bins[i].Min + width
	}
	for _, x := range sorted {
		i := int((x - xmin) / width)
		if x == xmax {
			i = histBins - 1
		}
		if i >= 0 && i < histBins {
			bins[i].Weight++
		}
	}
	n := float64(len(sample))
	var ymax float64
	for i := range bins {
		bins[i].Weight /= n * width
		ymax = math.Max(ymax, bins[i].Weight)
	}
	// The lowest non-zero density a bin can show is one value in it.
	floor := 0.5 / (n * width)

	p := plot.New()
	p.Title.Text = fmt.Sprintf("%s: beta %.2f (MLE), %.2f (moment); best %s", r.Name, r.MLE.Beta, r.Moment.Beta, modelStyles[r.Best].label)
	p.X.Label.Text = "value"
	p.Y.Label.Text = "density (log scale)"
	hist := &plotter.Histogram{Bins: bins, Width: width, FillColor: color.Gray{Y: 200}, LineStyle: draw.LineStyle{Color: color.Gray{Y: 150}, Width: vg.Points(0.5)}, LogY: true}
	p.Add(hist)
	p.Legend.Top = true
	p.Legend.Add(fmt.Sprintf("data (%d of %d values)", r.Sampled, r.N), hist)

	for _, m := range models {
		d := map[string]ggx.Dist{ModelGG: r.MLE, ModelGaussian: r.Gaussian, ModelLaplacian: r.Laplacian}[m]
		var pts plotter.XYs
		for i := range curvePoints + 1 {
			x := xmin + (xmax-xmin)*float64(i)/curvePoints
			if y := d.Prob(x); y >= floor && !math.IsInf(y, 0) {
				pts = append(pts, plotter.XY{X: x, Y: y})
				ymax = math.Max(ymax, y)
			}
		}
		if len(pts) < 2 {
			continue
		}
		line, err := plotter.NewLine(pts)
		if err != nil {
			return fmt.Errorf("analysis: plot of %q: %w", r.Name, err)
		}
		st := modelStyles[m]
		line.Color, line.Dashes, line.Width = st.color, st.dashes, vg.Points(1.5)
		p.Add(line)
		label := st.label
		if m == ModelGG {
			label = fmt.Sprintf("GG (beta=%.2f)", d.Beta)
		}
		p.Legend.Add(fmt.Sprintf("%s, KS %.4f", label, r.KS[m]), line)
	}
	p.X.Min, p.X.Max = xmin, xmax
	p.X.Tick.Marker = PreciseTicks{}
	p.Y.Scale = plot.LogScale{}
	p.Y.Tick.Marker = plot.LogTicks{Prec: -1}
	p.Y.Min, p.Y.Max = floor, ymax*3
	if err := p.Save(plotWidth, plotHeight, path); err != nil {
		return fmt.Errorf("analysis: saving plot of %q: %w", r.Name, err)
	}
	return nil
}

// PlotBetas draws the shape fitted by maximum likelihood for every report, one
// point per tensor in the order given, one color per layer kind, with dashed
// reference lines at beta = 2 (Gaussian) and 1 (Laplacian), and saves it to
// path in the format of its extension.
func PlotBetas(path string, reports []TensorReport, title string) error {
	if len(reports) == 0 {
		return fmt.Errorf("analysis: beta plot: no reports")
	}
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = "tensor (in order)"
	p.Y.Label.Text = "beta (MLE)"
	p.Y.Tick.Marker = PreciseTicks{}
	p.Legend.Top = true
	ymax := 2.2
	groups := map[string]plotter.XYs{}
	for i, r := range reports {
		key := r.Layer
		if r.Kind != tensorkind.Weights {
			key = r.Kind + "/" + r.Layer
		}
		groups[key] = append(groups[key], plotter.XY{X: float64(i), Y: r.MLE.Beta})
		ymax = math.Max(ymax, r.MLE.Beta*1.05)
	}
	for _, ref := range []float64{1, 2} {
		line, err := plotter.NewLine(plotter.XYs{{X: -0.5, Y: ref}, {X: float64(len(reports)) - 0.5, Y: ref}})
		if err != nil {
			return fmt.Errorf("analysis: beta plot: %w", err)
		}
		line.Color, line.Dashes = color.Gray{Y: 120}, []vg.Length{vg.Points(4), vg.Points(3)}
		p.Add(line)
	}
	var order []string
	for _, kind := range tensorkind.All {
		for _, l := range LayerKinds {
			if kind == tensorkind.Weights {
				order = append(order, l)
			} else {
				order = append(order, kind+"/"+l)
			}
		}
	}
	for i, key := range sortedKeys(groups, order) {
		sc, err := plotter.NewScatter(groups[key])
		if err != nil {
			return fmt.Errorf("analysis: beta plot: %w", err)
		}
		sc.Color, sc.Shape, sc.Radius = plotutil.Color(i), plotutil.Shape(i), vg.Points(3.5)
		p.Add(sc)
		p.Legend.Add(key, sc)
	}
	p.Y.Min, p.Y.Max = 0, ymax
	if err := p.Save(plotWidth, plotHeight, path); err != nil {
		return fmt.Errorf("analysis: saving beta plot: %w", err)
	}
	return nil
}

// unsafeFileChars matches the characters PlotFileName replaces.
var unsafeFileChars = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// PlotFileName returns a file name for the plot of the tensor called name, with
// the given extension (e.g. ".png"): runs of characters other than letters,
// digits, '.', '_' and '-' become '_'. Distinct names can map to the same file
// name ("a/b" and "a_b"); callers that care add a suffix.
func PlotFileName(name, ext string) string {
	base := strings.Trim(unsafeFileChars.ReplaceAllString(name, "_"), "_.")
	if base == "" {
		base = "tensor"
	}
	return base + ext
}

// PreciseTicks is plot.DefaultTicks with labels of up to 4 significant
// digits: DefaultTicks labels some ticks with fewer digits than their values
// have (a tick at 2.55 labeled "2.6"), which misplaces every point read off
// the axis.
type PreciseTicks struct{}

// Ticks implements plot.Ticker.
func (PreciseTicks) Ticks(min, max float64) []plot.Tick {
	ticks := plot.DefaultTicks{}.Ticks(min, max)
	for i := range ticks {
		if ticks[i].Label != "" {
			ticks[i].Label = strconv.FormatFloat(ticks[i].Value, 'g', 4, 64)
		}
	}
	return ticks
}
