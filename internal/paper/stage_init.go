package paper

import (
	"fmt"
	"strings"

	"github.com/ggprior/ggprior/internal/study"
)

// initStage is the GG-initialization study: validation loss curves of the
// baseline, He and GG initializations (fixed shapes, and shapes fitted to the
// trained baseline) over seeds.
type initStage struct{}

func (initStage) Name() string  { return "init" }
func (initStage) Title() string { return "GG initialization" }

// configs returns the stage's configurations, the baseline first.
func (initStage) configs(p *Plan) []string { return withBaseline(baseline, p.Profile.InitConfigs) }

func (s initStage) Needs(p *Plan) []Need { return p.Seeded(s.configs(p)) }

func (initStage) ExtraSeconds(*Plan) float64 { return 2 }

func (s initStage) Run(p *Plan) (*StageResult, error) {
	configs := s.configs(p)
	if _, err := p.EnsureAll(s.Needs(p)); err != nil {
		return nil, err
	}
	sum, err := p.Aggregate(configs)
	if err != nil {
		return nil, err
	}
	res := &StageResult{Data: sum, Notes: study.Notes(sum)}
	res.Tables = []Table{{Caption: lossCaption(sum), Markdown: study.LossTable(sum).String(), Commands: p.Commands(configs)}}
	fig, err := lossFigure(p, sum, "init-loss.png", "charlm GG initialization study")
	if err != nil {
		return nil, err
	}
	res.Figures = []Figure{fig}
	res.Claims = initClaims(sum, "gg-", "normal(0, 0.02)")
	return res, nil
}

// lossCaption describes a loss table.
func lossCaption(s *study.Summary) string {
	caption := fmt.Sprintf("Validation loss (nats per byte, mean ± sample standard deviation over seeds) of %d-step runs.", s.Steps)
	if s.BaselineFinal != nil {
		caption += fmt.Sprintf(" Steps to %s's final loss (%.4f): where the mean curve first reaches it, interpolated between evaluations.",
			s.Baseline, s.BaselineFinal.Mean)
	}
	return caption
}

// lossFigure draws the loss curves of a summary into the figure file name.
func lossFigure(p *Plan, s *study.Summary, name, title string) (Figure, error) {
	path, rel, err := p.figure(name)
	if err != nil {
		return Figure{}, err
	}
	if err := study.WriteLossPlot(path, s, fmt.Sprintf("%s, %d steps", title, s.Steps)); err != nil {
		return Figure{}, err
	}
	return Figure{File: rel, Caption: "validation loss (markers, mean over seeds) and smoothed training loss (thin) per configuration"}, nil
}

// initClaims returns the verdicts of GG initialization's claims against the
// baseline of s: faster convergence (a GG configuration, one whose name
// starts with prefix, reaches the baseline's mean final loss before the last
// step) and a better final loss (a GG configuration's final loss below the
// baseline's at the same seeds by a paired t-test at 5%, or with one seed
// below it at all).
func initClaims(s *study.Summary, prefix, baseline string) []Claim {
	faster := Claim{
		Claim:     "GG initialization converges faster than " + baseline,
		Criterion: "a GG configuration's mean validation curve reaches the baseline's mean final loss before the last step",
	}
	better := Claim{
		Claim:     "GG initialization reaches a lower final validation loss than " + baseline,
		Criterion: "a GG configuration's final validation loss is below the baseline's at the same seeds, by a paired t-test at the 5% level (two-sided) with 2 or more seeds; with one seed, below it at all (untested)",
	}
	if s.BaselineFinal == nil {
		faster.Measured, faster.Reproduced = "no baseline run", NotMeasured
		better.Measured, better.Reproduced = "no baseline run", NotMeasured
		return []Claim{faster, better}
	}
	var steps, diffs []string
	fasterOK, betterOK, found := false, false, false
	for _, c := range s.Configs {
		if !strings.HasPrefix(c.Name, prefix) {
			continue
		}
		found = true
		steps = append(steps, fmt.Sprintf("%s %s", c.Name, study.FormatStepsTo(c, s)))
		diff := fmt.Sprintf("%s %s", c.Name, study.FormatDiff(c, s))
		if c.PairedDiff != nil && c.PairedDiff.N >= 2 {
			diff += fmt.Sprintf(" (paired Δ %s)", study.FormatPaired(c))
		}
		diffs = append(diffs, diff)
		if c.StepsToBaseline != nil && *c.StepsToBaseline < float64(s.Steps) {
			fasterOK = true
		}
		if c.PairedDiff != nil {
			if below, _ := c.PairedDiff.BelowZero(0.05); below {
				betterOK = true
			}
		} else if c.FinalDiffPct != nil && *c.FinalDiffPct < 0 {
			betterOK = true
		}
	}
	if !found {
		faster.Measured, faster.Reproduced = "no GG configuration run", NotMeasured
		better.Measured, better.Reproduced = "no GG configuration run", NotMeasured
		return []Claim{faster, better}
	}
	faster.Measured = fmt.Sprintf("baseline final %.4f at step %d; steps to it: %s", s.BaselineFinal.Mean, s.Steps, strings.Join(steps, ", "))
	better.Measured = "final loss vs baseline: " + strings.Join(diffs, ", ")
	faster.Reproduced, better.Reproduced = verdict(fasterOK), verdict(betterOK)
	return []Claim{faster, better}
}
