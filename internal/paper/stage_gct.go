package paper

import (
	"fmt"
	"github.com/ggprior/ggprior/internal/stats"
	"maps"
	"math"
	"slices"
	"sort"
	"strings"

	"github.com/ggprior/ggprior/internal/charlm"
	"github.com/ggprior/ggprior/internal/study"
)

// gctStage is the GCT study: AdamW with gradients coded by GCT's quantizer
// at several bit budgets, and by the baseline compressors in its place,
// against uncompressed AdamW.
type gctStage struct{}

func (gctStage) Name() string  { return "gct" }
func (gctStage) Title() string { return "GCT: gradient-constrained training" }

func (gctStage) configs(p *Plan) []string { return withBaseline(baseline, p.Profile.GCTConfigs) }

func (s gctStage) Needs(p *Plan) []Need { return p.Seeded(s.configs(p)) }

func (gctStage) ExtraSeconds(*Plan) float64 { return 2 }

// Thresholds of the GCT claims.
const (
	gctMaxBits    = 2.0  // GCT's bit budget of the claim.
	gctMaxLossPct = 1.0  // Largest validation loss increase over uncompressed training, in percent.
	fp32Bits      = 32.0 // Bits per element of uncompressed gradients.
)

// gctRateTargets are the targets on the measured coded size: a GCT
// configuration at <= bits coded bits per element (mean over seeds) within
// lossPct of uncompressed training.
var gctRateTargets = []struct{ bits, lossPct float64 }{{1.5, 1}, {1, 2}}

// gctDefaultFamily is the prefix of the configurations of charlm's default
// GCT (-compress gct -gct-bits B: the auto coder in AdamW's geometry) at
// several targets: GCT's curve in the comparisons at equal bits.
const gctDefaultFamily = "gct-adam-"

// gctCompetitors are the compressors GCT must beat at equal bits.
var gctCompetitors = []string{"topk-0.01", "topk-0.04", "sign", "int8", "powersgd-1", "powersgd-2", "powersgd-4"}

// GCTRow is the GCT study's measurements of one configuration, over seeds.
type GCTRow struct {
	Config string `json:"config"`
	// Compressor is the compressor's name, from the results ("" for uncompressed).
	Compressor string `json:"compressor"`
	// TargetBits is GCT's target (0 for other compressors).
	TargetBits float64 `json:"target_bits,omitempty"`
	// FinalLoss is the final validation loss; DiffPct its difference from the baseline's (percent).
	FinalLoss stats.MeanStd `json:"final_val_loss"`
	DiffPct   *float64      `json:"final_diff_pct_vs_baseline,omitempty"`
	// Bits is the mean coded size of the gradients, bits per element (32 for uncompressed).
	Bits stats.MeanStd `json:"bits_per_element"`
	// FinalBySeed is the final validation loss of each seed's run, for
	// comparisons paired by seed.
	FinalBySeed map[int64]float64 `json:"final_val_loss_by_seed,omitempty"`
}

func (s gctStage) Run(p *Plan) (*StageResult, error) {
	configs := s.configs(p)
	if _, err := p.EnsureAll(s.Needs(p)); err != nil {
		return nil, err
	}
	sum, err := p.Aggregate(configs)
	if err != nil {
		return nil, err
	}
	var rows []GCTRow
	t := &study.Table{Header: []string{"config", "compressor", "seeds", "final val loss", "vs " + baseline, "coded bits/element",
		"× fewer than fp32"}, LeftColumns: 2}
	for _, c := range sum.Configs {
		row := GCTRow{Config: c.Name, FinalLoss: c.Final, DiffPct: c.FinalDiffPct, FinalBySeed: map[int64]float64{}}
		for _, seed := range c.Seeds {
			row.FinalBySeed[seed], _ = c.FinalAt(seed)
		}
		if g := c.Runs[0].Results.GradientResults; g != nil {
			row.Compressor, row.TargetBits = g.Compress.Name, g.Compress.Bits
		}
		row.Bits = c.Over(func(r *charlm.Results) (float64, bool) {
			if r.GradientResults == nil {
				return fp32Bits, true // Uncompressed.
			}
			if r.GradBitsPerElementAllSteps != nil { // Warm-up steps included.
				return *r.GradBitsPerElementAllSteps, true
			}
			if r.GradBitsPerElement == nil {
				return 0, false
			}
			return *r.GradBitsPerElement, true
		})
		rows = append(rows, row)
		name, ratio := row.Compressor, "—"
		if name == "" {
			name = "none (fp32)"
		}
		if row.Bits.Mean > 0 {
			ratio = fmt.Sprintf("%.1f", fp32Bits/row.Bits.Mean)
		}
		t.AddRow(c.Name, name, study.FormatSeeds(c.Seeds), study.FormatMeanStd(c.Final, 4), study.FormatDiff(c, sum),
			study.FormatMeanStd(row.Bits, 3), ratio)
	}
	res := &StageResult{Data: map[string]any{"summary": sum, "rows": rows}, Notes: study.Notes(sum)}
	res.Tables = []Table{{Caption: "AdamW with compressed gradients (GCT's GG quantizer, or a baseline compressor in GCT's wrapper, " +
		"with error feedback) against uncompressed AdamW: final validation loss (nats per byte) and the mean coded size of the " +
		"gradients, mean ± sample standard deviation over seeds.", Markdown: t.String(), Commands: p.Commands(configs)}}
	fig, err := gctFigure(p, rows, sum)
	if err != nil {
		return nil, err
	}
	res.Figures = []Figure{fig}
	res.Claims = gctClaims(rows)
	return res, nil
}

// isGCT reports whether a row is GCT's quantizer.
func (r GCTRow) isGCT() bool { return r.TargetBits > 0 }

// gctFigure draws the final validation loss against the coded bits (log x).
func gctFigure(p *Plan, rows []GCTRow, sum *study.Summary) (Figure, error) {
	plot := &study.XYPlot{Title: fmt.Sprintf("gradient compression, %d steps", p.Profile.Steps), LogX: true,
		XLabel: "coded bits per gradient element (log scale)", YLabel: "final validation loss (nats per byte)"}
	gct := study.XYSeries{Name: "GCT"}
	var others []study.XYSeries
	for _, r := range rows {
		if r.Bits.N == 0 || !(r.Bits.Mean > 0) {
			continue
		}
		pt := [2]float64{r.Bits.Mean, r.FinalLoss.Mean}
		if r.isGCT() {
			gct.Points = append(gct.Points, pt)
			gct.Labels = append(gct.Labels, fmt.Sprintf("%g", r.TargetBits))
		} else {
			others = append(others, study.XYSeries{Name: r.Config, Points: [][2]float64{pt}})
		}
	}
	sort.Sort(byX(gct))
	if len(gct.Points) > 0 {
		plot.Series = append(plot.Series, gct)
	}
	plot.Series = append(plot.Series, others...)
	if sum.BaselineFinal != nil {
		plot.HLines = []study.HLine{{Name: "uncompressed (" + baseline + ")", Y: sum.BaselineFinal.Mean}}
	}
	path, rel, err := p.figure("gct-loss-bits.png")
	if err != nil {
		return Figure{}, err
	}
	if err := plot.Save(path); err != nil {
		return Figure{}, err
	}
	return Figure{File: rel, Caption: "final validation loss against the coded bits per gradient element (labels: GCT's target bits)"}, nil
}

// gctClaims returns the verdicts of GCT's claims: at <= 2 bits within 1% of
// uncompressed training (mean over seeds), and at equal bits a lower loss
// than top-k, sign and PowerSGD (on the means to find GCT's loss at the
// compressor's bits, then, with 2 or more seeds, by a t-test paired by seed:
// see equalBits and pairedGap; GCT's curve is its default configuration's
// runs, gctDefaultFamily, where there are any).
func gctClaims(rows []GCTRow) []Claim {
	within := Claim{
		Claim:     fmt.Sprintf("GCT at <= %g bits per gradient element trains within %g%% of uncompressed training", gctMaxBits, gctMaxLossPct),
		Criterion: fmt.Sprintf("a GCT run with a target of <= %g bits has a mean final loss <= %.2f x the uncompressed baseline's", gctMaxBits, 1+gctMaxLossPct/100),
	}
	var gctRows []GCTRow // GCT's runs.
	var measured []string
	ok, found := false, false
	for _, r := range rows {
		if !r.isGCT() || r.Bits.N == 0 {
			continue
		}
		gctRows = append(gctRows, r)
		if r.TargetBits > gctMaxBits || r.DiffPct == nil {
			continue
		}
		found = true
		measured = append(measured, fmt.Sprintf("%s: %.3f bits, %+.2f%%", r.Config, r.Bits.Mean, *r.DiffPct))
		ok = ok || *r.DiffPct <= gctMaxLossPct
	}
	if found {
		within.Measured, within.Reproduced = strings.Join(measured, "; "), verdict(ok)
	} else {
		within.Measured, within.Reproduced = "no GCT run at <= 2 bits with a baseline", NotMeasured
	}
	claims := []Claim{within}
	for _, target := range gctRateTargets {
		c := Claim{
			Claim: fmt.Sprintf("GCT codes gradients in <= %g bits per element within %g%% of uncompressed training", target.bits, target.lossPct),
			Criterion: fmt.Sprintf("a GCT configuration's measured coded size is <= %g bits per element and its mean final loss <= %.2f x the uncompressed baseline's (means over seeds)",
				target.bits, 1+target.lossPct/100),
		}
		var parts []string
		ok := false
		for _, r := range gctRows {
			if r.DiffPct == nil || r.Bits.Mean > target.bits {
				continue
			}
			parts = append(parts, fmt.Sprintf("%s: %.3f bits, %+.2f%%", r.Config, r.Bits.Mean, *r.DiffPct))
			ok = ok || *r.DiffPct <= target.lossPct
		}
		if len(parts) == 0 {
			c.Measured, c.Reproduced = fmt.Sprintf("no GCT run at <= %g coded bits per element", target.bits), NotMeasured
		} else {
			c.Measured, c.Reproduced = strings.Join(parts, "; "), verdict(ok)
		}
		claims = append(claims, c)
	}
	// GCT's curve for the comparisons at equal bits: charlm's default
	// configuration at its several targets, or every GCT run without it.
	var curve []GCTRow
	for _, r := range gctRows {
		if strings.HasPrefix(r.Config, gctDefaultFamily) {
			curve = append(curve, r)
		}
	}
	if len(curve) == 0 {
		curve = gctRows
	}
	gctRows = curve
	sort.SliceStable(gctRows, func(i, j int) bool { return gctRows[i].Bits.Mean < gctRows[j].Bits.Mean })
	gct := make([][2]float64, len(gctRows)) // (bits, loss) of GCT's runs, by bits.
	for i, r := range gctRows {
		gct[i] = [2]float64{r.Bits.Mean, r.FinalLoss.Mean}
	}
	for _, name := range gctCompetitors {
		c := Claim{
			Claim: fmt.Sprintf("at equal bits, GCT trains to a lower loss than %s", configs[name].Label),
			Criterion: "GCT's loss at the compressor's bits (a GCT run with no more bits and a lower mean loss, or GCT's mean " +
				"loss interpolated in log bits between its runs) is lower: with 2 or more seeds, lower at the same seeds by a " +
				"paired t-test at the 5% level (two-sided); with one seed, lower at all (untested)",
		}
		i := slices.IndexFunc(rows, func(r GCTRow) bool { return r.Config == name })
		switch {
		case i < 0 || rows[i].Bits.N == 0:
			c.Measured, c.Reproduced = "not run at this profile", NotMeasured
		case len(gct) == 0:
			c.Measured, c.Reproduced = "no GCT run", NotMeasured
		default:
			var at []gctWeight
			c.Reproduced, c.Measured, at = equalBits(gct, [2]float64{rows[i].Bits.Mean, rows[i].FinalLoss.Mean}, name)
			if gap, ok := pairedGap(gctRows, at, rows[i]); ok && gap.N >= 2 {
				below, _ := gap.BelowZero(0.05)
				c.Reproduced = verdict(below)
				significant := "not significant at 5%"
				if sig, _ := gap.Significant(0.05); sig {
					significant = "significant at 5%"
				}
				c.Measured += fmt.Sprintf("; paired by seed, GCT minus %s: %+.4f ± %.4f (t %+.1f, %d seeds; %s)",
					name, gap.Mean, gap.Std, gap.T(), gap.N, significant)
			}
		}
		claims = append(claims, c)
	}
	return claims
}

// gctWeight is one GCT run's weight in GCT's loss at a compressor's bits:
// gct[I] with weight W (1 for a run compared on its own; 1-f and f for the
// two runs around the bits, interpolated).
type gctWeight struct {
	I int
	W float64
}

// equalBits compares GCT's (bits, loss) points (sorted by bits) with a
// compressor's point b: GCT wins if one of its runs has no more bits and a
// lower loss, or if its loss interpolated linearly in log bits at b's bits is
// lower; it loses if b has no more bits and a lower or equal loss than a GCT
// run, or the interpolated loss is not lower; outside GCT's range, with
// neither, it is not measured. It returns the verdict, the numbers it rests
// on, and the GCT runs it compared b with (nil when not measured), for a
// comparison paired by seed (pairedGap).
func equalBits(gct [][2]float64, b [2]float64, name string) (string, string, []gctWeight) {
	point := fmt.Sprintf("%s: %.3f bits, loss %.4f", name, b[0], b[1])
	for i, g := range gct {
		if g[0] <= b[0] && g[1] < b[1] {
			return Yes, fmt.Sprintf("%s; GCT at %.3f bits: %.4f", point, g[0], g[1]), []gctWeight{{i, 1}}
		}
	}
	lo, hi := gct[0], gct[len(gct)-1]
	if b[0] >= lo[0] && b[0] <= hi[0] {
		for k := 1; k < len(gct); k++ {
			a, c := gct[k-1], gct[k]
			if b[0] > c[0] {
				continue
			}
			frac := 0.0
			if c[0] > a[0] {
				frac = (math.Log(b[0]) - math.Log(a[0])) / (math.Log(c[0]) - math.Log(a[0]))
			}
			loss := a[1] + frac*(c[1]-a[1])
			return verdict(loss < b[1]), fmt.Sprintf("%s; GCT interpolated there: %.4f", point, loss),
				[]gctWeight{{k - 1, 1 - frac}, {k, frac}}
		}
	}
	for i, g := range gct {
		if b[0] <= g[0] && b[1] <= g[1] {
			return No, fmt.Sprintf("%s; GCT at %.3f bits: %.4f (more bits, no lower loss)", point, g[0], g[1]), []gctWeight{{i, 1}}
		}
	}
	if b[0] < lo[0] {
		return NotMeasured, fmt.Sprintf("%s; below GCT's range (%.3f–%.3f bits): run GCT at those bits (with the rANS coder, "+
			"-gct-coder auto: Exp-Golomb codes take at least 1 bit per element)", point, lo[0], hi[0]), nil
	}
	return NotMeasured, fmt.Sprintf("%s; outside GCT's range (%.3f–%.3f bits): run GCT at those bits", point, lo[0], hi[0]), nil
}

// pairedGap returns GCT's loss at a compressor's bits (the runs of gct
// weighted as at says) minus the compressor's, over the seeds that all of
// them have: each seed fixes the training batches, so a pair differs only by
// the compressor. ok is false without such seeds (or without at).
func pairedGap(gct []GCTRow, at []gctWeight, b GCTRow) (gap stats.MeanStd, ok bool) {
	if len(at) == 0 {
		return gap, false
	}
	seeds := slices.Sorted(maps.Keys(b.FinalBySeed))
	var diffs []float64
nextSeed:
	for _, seed := range seeds {
		loss := 0.0
		for _, w := range at {
			l, ok := gct[w.I].FinalBySeed[seed]
			if !ok {
				continue nextSeed
			}
			loss += w.W * l
		}
		diffs = append(diffs, loss-b.FinalBySeed[seed])
	}
	if len(diffs) == 0 {
		return gap, false
	}
	return stats.NewMeanStd(diffs), true
}
