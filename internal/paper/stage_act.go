package paper

import (
	"fmt"
	"github.com/ggprior/ggprior/internal/stats"
	"slices"
	"sort"
	"strings"

	"github.com/ggprior/ggprior/internal/charlm"
	"github.com/ggprior/ggprior/internal/study"
)

// actStage is the ACT study: ACT at the MLP hidden activations at several
// target sparsities, without its rate term, and with a fixed threshold,
// against the baseline without ACT.
type actStage struct{}

func (actStage) Name() string  { return "act" }
func (actStage) Title() string { return "ACT: activation-constrained training" }

func (actStage) configs(p *Plan) []string { return withBaseline(baseline, p.Profile.ACTConfigs) }

func (s actStage) Needs(p *Plan) []Need { return p.Seeded(s.configs(p)) }

func (actStage) ExtraSeconds(*Plan) float64 { return 2 }

// Thresholds of the ACT claims.
const (
	actTargetSparsity = 0.95 // MLP-hidden sparsity of the claim.
	actMaxLossPct     = 2.0  // Largest validation loss increase over the baseline, in percent.
	actMinRatio       = 8.0  // Smallest coded-size reduction vs int8.
	actAllSparsity    = 0.70 // Sparsity averaged over every site, of the claim with ACT at every site.
	int8Bits          = 8.0
)

// ACTRow is the ACT study's measurements of one configuration, over seeds.
type ACTRow struct {
	Config string `json:"config"`
	// Sites are the activation sites with ACT, Targets their final target
	// sparsities, Target the MLP hidden's; Lambda, Start and End are the
	// other ACT settings (of its first run), Ramps the sites' own ramps.
	Sites   []string           `json:"sites,omitempty"`
	Targets map[string]float64 `json:"target_sparsity_by_site,omitempty"`
	Target  float64            `json:"target_sparsity"`
	Lambda  float64            `json:"lambda"`
	Start   int                `json:"ramp_start"`
	End     int                `json:"ramp_end"`
	// Ramps are the sites with a ramp of their own ([start, end]).
	Ramps map[string][2]int `json:"ramp_by_site,omitempty"`
	// FinalLoss is the final validation loss; DiffPct its difference from the baseline's (percent).
	FinalLoss stats.MeanStd `json:"final_val_loss"`
	DiffPct   *float64      `json:"final_diff_pct_vs_baseline,omitempty"`
	// Sparsity is the achieved sparsity of the MLP hidden activations (mean over blocks).
	Sparsity stats.MeanStd `json:"mlp_hidden_sparsity"`
	// AllSites is the achieved sparsity averaged over every ACT site (of every block).
	AllSites stats.MeanStd `json:"all_sites_sparsity"`
	// Bits is the coded size of the MLP hidden activations, bits per activation.
	Bits stats.MeanStd `json:"bits_per_activation"`
	// SkippableMACs is the fraction of the MLP's second layer's multiply-adds the zeros make skippable.
	SkippableMACs stats.MeanStd `json:"skippable_macs"`
}

// mlpHidden averages a per-site ACT measurement over the MLP hidden sites ("block_000/mlp_hidden", ...).
func mlpHidden(bySite map[string]float64) (float64, bool) {
	var sum float64
	n := 0
	for site, v := range bySite {
		if strings.HasSuffix(site, "/"+charlm.SiteMLPHidden) {
			sum += v
			n++
		}
	}
	if n == 0 {
		return 0, false
	}
	return sum / float64(n), true
}

func (s actStage) Run(p *Plan) (*StageResult, error) {
	configs := s.configs(p)
	if _, err := p.EnsureAll(s.Needs(p)); err != nil {
		return nil, err
	}
	sum, err := p.Aggregate(configs)
	if err != nil {
		return nil, err
	}
	var rows []ACTRow
	t := &study.Table{Header: []string{"config", "ACT", "seeds", "final val loss", "vs " + baseline, "MLP-hidden sparsity",
		"all-site sparsity", "bits/activation", "× smaller than int8", "skippable MACs"}, LeftColumns: 2}
	for _, c := range sum.Configs {
		row := ACTRow{Config: c.Name, FinalLoss: c.Final, DiffPct: c.FinalDiffPct}
		if a := c.Runs[0].Results.ACTResults; a != nil {
			row.Sites, row.Targets = a.ACT.Sites, a.ACT.Sparsity
			row.Target, row.Lambda, row.Start, row.End = a.ACT.Sparsity[charlm.SiteMLPHidden], a.ACT.Lambda, a.ACT.Start, a.ACT.End
			row.Ramps = a.ACT.Ramp
		}
		row.AllSites = c.Over(func(r *charlm.Results) (float64, bool) {
			if r.ACTResults == nil {
				return 0, false
			}
			return r.ACTSparsity, true
		})
		row.Sparsity = c.Over(func(r *charlm.Results) (float64, bool) {
			if r.ACTResults == nil {
				return 0, false
			}
			return mlpHidden(r.ACTSparsityBySite)
		})
		row.Bits = c.Over(func(r *charlm.Results) (float64, bool) {
			if r.ACTResults == nil {
				return 0, false
			}
			return mlpHidden(r.ACTBitsBySite)
		})
		row.SkippableMACs = c.Over(func(r *charlm.Results) (float64, bool) {
			if r.ACTResults == nil {
				return 0, false
			}
			return r.ACTSkippableMACs, true
		})
		rows = append(rows, row)
		settings, ratio := "none", "—"
		if row.Sparsity.N > 0 {
			settings = fmt.Sprintf("target %s, λ %g, ramp %s", row.targets(), row.Lambda, row.ramps())
			if row.Bits.Mean > 0 {
				ratio = fmt.Sprintf("%.1f", int8Bits/row.Bits.Mean)
			}
		}
		t.AddRow(c.Name, settings, study.FormatSeeds(c.Seeds), study.FormatMeanStd(c.Final, 4), study.FormatDiff(c, sum),
			formatPct(row.Sparsity), formatPct(row.AllSites), study.FormatMeanStd(row.Bits, 3), ratio, formatPct(row.SkippableMACs))
	}
	res := &StageResult{Data: map[string]any{"summary": sum, "rows": rows}, Notes: study.Notes(sum)}
	res.Tables = []Table{{Caption: "ACT at the MLP hidden activations (GELU outputs; act-all: at the attention and MLP inputs too) " +
		"against the baseline without ACT; final validation loss " +
		"(nats per byte) and ACT's measurements of the last training step, mean ± sample standard deviation over seeds. " +
		"All-site sparsity: averaged over every site with ACT. " +
		"Bits per activation: int8 quantization, then the shorter of the per-value and the zero-run Exp-Golomb codes.", Markdown: t.String(), Commands: p.Commands(configs)}}
	fig, err := actFigure(p, rows, sum)
	if err != nil {
		return nil, err
	}
	res.Figures = []Figure{fig}
	res.Claims = actClaims(rows, sum.BaselineFinal != nil)
	return res, nil
}

// targets formats the row's target sparsities: "0.95" with ACT at the MLP
// hidden only, "attn_in 0.70, mlp_in 0.70, mlp_hidden 0.95" otherwise.
func (r ACTRow) targets() string {
	if len(r.Sites) <= 1 {
		return fmt.Sprintf("%.2f", r.Target)
	}
	var parts []string
	for _, site := range charlm.ActivationSites {
		if v, ok := r.Targets[site]; ok && slices.Contains(r.Sites, site) {
			parts = append(parts, fmt.Sprintf("%s %.2f", site, v))
		}
	}
	return strings.Join(parts, ", ")
}

// ramps formats the ramp: "100–1200", with the sites that have their own
// after it: "100–1200 (mlp_hidden 0–0)".
func (r ACTRow) ramps() string {
	s := fmt.Sprintf("%d–%d", r.Start, r.End)
	var parts []string
	for _, site := range charlm.ActivationSites {
		if v, ok := r.Ramps[site]; ok && slices.Contains(r.Sites, site) {
			parts = append(parts, fmt.Sprintf("%s %d–%d", site, v[0], v[1]))
		}
	}
	if len(parts) > 0 {
		s += " (" + strings.Join(parts, ", ") + ")"
	}
	return s
}

// everySite reports whether the row has ACT at every activation site.
func (r ACTRow) everySite() bool {
	for _, site := range charlm.ActivationSites {
		if !slices.Contains(r.Sites, site) {
			return false
		}
	}
	return true
}

// formatPct formats a fraction as a percentage with its spread: "95.1% ± 0.3".
func formatPct(m stats.MeanStd) string {
	if m.N == 0 {
		return "—"
	}
	return study.FormatMeanStd(stats.MeanStd{Mean: 100 * m.Mean, Std: 100 * m.Std, N: m.N}, 1) + "%"
}

// actFigure draws the final validation loss against the achieved sparsity.
func actFigure(p *Plan, rows []ACTRow, sum *study.Summary) (Figure, error) {
	plot := &study.XYPlot{Title: fmt.Sprintf("ACT at the MLP hidden activations, %d steps", p.Profile.Steps),
		XLabel: "achieved MLP-hidden sparsity", YLabel: "final validation loss (nats per byte)"}
	progressive := study.XYSeries{Name: "ACT (progressive)"}
	var others []study.XYSeries
	for _, r := range rows {
		if r.Sparsity.N == 0 {
			continue
		}
		pt := [2]float64{r.Sparsity.Mean, r.FinalLoss.Mean}
		if r.End > r.Start && r.Lambda > 0 {
			progressive.Points = append(progressive.Points, pt)
			progressive.Labels = append(progressive.Labels, fmt.Sprintf("%.2f", r.Target))
		} else {
			others = append(others, study.XYSeries{Name: r.Config, Points: [][2]float64{pt}})
		}
	}
	sort.Sort(byX(progressive))
	if len(progressive.Points) > 0 {
		plot.Series = append(plot.Series, progressive)
	}
	plot.Series = append(plot.Series, others...)
	if sum.BaselineFinal != nil {
		plot.HLines = []study.HLine{{Name: baseline + " (no ACT)", Y: sum.BaselineFinal.Mean}}
	}
	path, rel, err := p.figure("act-sparsity-loss.png")
	if err != nil {
		return Figure{}, err
	}
	if len(plot.Series) == 0 {
		return Figure{}, fmt.Errorf("act: no ACT run to plot")
	}
	if err := plot.Save(path); err != nil {
		return Figure{}, err
	}
	return Figure{File: rel, Caption: "final validation loss against the achieved MLP-hidden sparsity (labels: target sparsity)"}, nil
}

// byX sorts a series' points (and labels) by x.
type byX study.XYSeries

func (s byX) Len() int           { return len(s.Points) }
func (s byX) Less(i, j int) bool { return s.Points[i][0] < s.Points[j][0] }
func (s byX) Swap(i, j int) {
	s.Points[i], s.Points[j] = s.Points[j], s.Points[i]
	if len(s.Labels) == len(s.Points) {
		s.Labels[i], s.Labels[j] = s.Labels[j], s.Labels[i]
	}
}

// actClaims returns the verdicts of ACT's claims: MLP-hidden sparsity >= 95%
// within 2% of the baseline's loss, coded activations >= 8x smaller than
// int8, and with ACT at every site a sparsity >= 70% averaged over the sites
// within 2% of the baseline's loss (means over seeds).
func actClaims(rows []ACTRow, hasBaseline bool) []Claim {
	sparse := Claim{
		Claim:     fmt.Sprintf("ACT makes the MLP hidden activations >= %.0f%% sparse at a validation loss within %.0f%% of the baseline's", 100*actTargetSparsity, actMaxLossPct),
		Criterion: fmt.Sprintf("an ACT configuration's mean MLP-hidden sparsity is >= %.2f and its mean final loss <= %.2f x the baseline's", actTargetSparsity, 1+actMaxLossPct/100),
	}
	coded := Claim{
		Claim:     fmt.Sprintf("ACT's activations code >= %.0fx smaller than int8", actMinRatio),
		Criterion: fmt.Sprintf("an ACT configuration's MLP hidden activations code in <= %.2f bits each (int8: 8), mean over seeds", int8Bits/actMinRatio),
	}
	every := Claim{
		Claim: fmt.Sprintf("ACT at every activation site makes them >= %.0f%% sparse on average at a validation loss within %.0f%% of the baseline's",
			100*actAllSparsity, actMaxLossPct),
		Criterion: fmt.Sprintf("a configuration with ACT at every site (%s) has a mean sparsity over the sites >= %.2f and a mean final loss <= %.2f x the baseline's",
			strings.Join(charlm.ActivationSites, ", "), actAllSparsity, 1+actMaxLossPct/100),
	}
	var measured, bits, all []string
	sparseOK, codedOK, everyOK, found := false, false, false, false
	for _, r := range rows {
		if r.Sparsity.N == 0 {
			continue
		}
		found = true
		diff := "no baseline"
		if r.DiffPct != nil {
			diff = fmt.Sprintf("%+.2f%%", *r.DiffPct)
			if r.Sparsity.Mean >= actTargetSparsity && *r.DiffPct <= actMaxLossPct {
				sparseOK = true
			}
		}
		measured = append(measured, fmt.Sprintf("%s %.1f%% sparse at %s", r.Config, 100*r.Sparsity.Mean, diff))
		if r.everySite() {
			all = append(all, fmt.Sprintf("%s %.1f%% sparse over the sites at %s", r.Config, 100*r.AllSites.Mean, diff))
			if r.DiffPct != nil && r.AllSites.Mean >= actAllSparsity && *r.DiffPct <= actMaxLossPct {
				everyOK = true
			}
		}
		if r.Bits.Mean > 0 {
			bits = append(bits, fmt.Sprintf("%s %.3f bits (%.1fx)", r.Config, r.Bits.Mean, int8Bits/r.Bits.Mean))
			if int8Bits/r.Bits.Mean >= actMinRatio {
				codedOK = true
			}
		}
	}
	if !found {
		sparse.Measured, sparse.Reproduced = "no ACT run", NotMeasured
		coded.Measured, coded.Reproduced = "no ACT run", NotMeasured
		every.Measured, every.Reproduced = "no ACT run", NotMeasured
		return []Claim{sparse, coded, every}
	}
	sparse.Measured, coded.Measured = strings.Join(measured, "; "), strings.Join(bits, "; ")
	sparse.Reproduced, coded.Reproduced = verdict(sparseOK), verdict(codedOK)
	if len(all) == 0 {
		every.Measured, every.Reproduced = "no run with ACT at every site", NotMeasured
	} else {
		every.Measured, every.Reproduced = strings.Join(all, "; "), verdict(everyOK)
	}
	if !hasBaseline {
		sparse.Reproduced, every.Reproduced = NotMeasured, NotMeasured
	}
	return []Claim{sparse, coded, every}
}
