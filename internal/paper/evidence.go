package paper

import (
	"fmt"
	"slices"
	"strings"

	"github.com/ggprior/ggprior/internal/charlm"
	"github.com/ggprior/ggprior/internal/distfit"
	"github.com/ggprior/ggprior/internal/gomlxckpt"
	"github.com/ggprior/ggprior/internal/study"
	"github.com/ggprior/ggprior/internal/tensorkind"
)

// evidenceStage fits the GG, Gaussian and Laplacian to the weights of the
// trained baseline (seed 1, final checkpoint) and to its activations and
// gradients captured live for a few steps from that checkpoint.
type evidenceStage struct{}

func (evidenceStage) Name() string { return "evidence" }
func (evidenceStage) Title() string {
	return "GG evidence: weights, activations and gradients of a trained charlm"
}

func (evidenceStage) Needs(p *Plan) []Need {
	return []Need{{Config: baseline, Seed: p.Seeds[0], Weights: true}}
}

func (evidenceStage) ExtraSeconds(p *Plan) float64 { return evidenceSeconds(p, charlm.ArchGPT) }

func (evidenceStage) Run(p *Plan) (*StageResult, error) {
	if _, err := p.Ensure(Need{Config: baseline, Seed: p.Seeds[0], Weights: true}); err != nil {
		return nil, err
	}
	ev, err := gatherEvidence(p, baseline, "evidence")
	if err != nil {
		return nil, err
	}
	res := &StageResult{Data: ev, Figures: ev.figures, Notes: ev.notes()}
	res.Claims = ev.claims("the trained gpt charlm", true)
	res.Tables = []Table{{Caption: fmt.Sprintf("Fits per kind of tensor and layer (%s).", ev.Source), Markdown: ev.table(),
		Commands: p.Commands([]string{baseline})}}
	return res, nil
}

// evidenceSeconds estimates the evidence work on one checkpoint: loading,
// about 150 tensors fitted, and the capture steps.
func evidenceSeconds(p *Plan, arch string) float64 {
	sample := float64(p.Profile.EvidenceSample)
	return 10 + 150*2e-6*sample + float64(p.Profile.CaptureSteps)*4*p.progress.secPerStep(arch)
}

// Evidence is the GG evidence on the tensors of one trained model.
type Evidence struct {
	// Source describes the checkpoint and the capture.
	Source string `json:"source"`
	// Options are the fits' sampling options.
	Options distfit.Options `json:"options"`
	// Summary counts, per kind and layer kind, which model fits best and the shapes fitted.
	Summary distfit.Summary `json:"summary"`
	// Reports are the fits of every tensor; Skipped the tensors not fitted, with why.
	Reports []distfit.TensorReport `json:"reports"`
	Skipped []distfit.Skip         `json:"skipped,omitempty"`

	figures []Figure
}

// representativeLayers are the layer kinds whose first tensor of each kind
// gets a histogram, at most plotsPerKind per kind; among activations, the
// MLP hidden activations (ACT's site) stand for the MLP.
var representativeLayers = []string{distfit.LayerAttention, distfit.LayerMLP, distfit.LayerEmbedding, distfit.LayerHead}

const plotsPerKind = 3

// representative returns the index of the report of kind and layer that
// gets a histogram, -1 if none.
func representative(reports []distfit.TensorReport, kind, layer string) int {
	if kind == tensorkind.Activations && layer == distfit.LayerMLP {
		if i := slices.IndexFunc(reports, func(r distfit.TensorReport) bool {
			return r.Kind == kind && strings.HasSuffix(r.Name, charlm.SiteMLPHidden)
		}); i >= 0 {
			return i
		}
	}
	return slices.IndexFunc(reports, func(r distfit.TensorReport) bool { return r.Kind == kind && r.Layer == layer })
}

// gatherEvidence fits the weights of the final checkpoint of config's first
// seed, and the activations and gradients of a live capture of
// Profile.CaptureSteps steps from it; it draws the histograms of a few
// representative tensors (figures named after prefix) and the shapes fitted.
func gatherEvidence(p *Plan, config, prefix string) (*Evidence, error) {
	ckpt := p.CheckpointDir(config, p.Seeds[0])
	opts := distfit.Options{SampleSize: p.Profile.EvidenceSample, Seed: 1}
	ev := &Evidence{Options: opts}
	samples := map[string][]float64{} // By kind + name, for the plots.
	add := func(kind, name string, sample []float64, total int) {
		o := opts
		o.Kind = kind
		r, err := distfit.AnalyzeSample(name, sample, total, o)
		if err != nil {
			ev.Skipped = append(ev.Skipped, distfit.Skip{Name: kind + " " + name, Reason: err.Error()})
			return
		}
		ev.Reports = append(ev.Reports, r)
		samples[kind+name] = sample
	}

	c, err := gomlxckpt.Open(ckpt)
	if err != nil {
		return nil, err
	}
	for _, v := range c.Weights() {
		if v.Size < p.Profile.EvidenceMinSize {
			continue
		}
		values, err := c.Values(v.Path)
		if err != nil {
			return nil, err
		}
		add(tensorkind.Weights, v.Path, distfit.Gather(values, opts.Indices(v.Path, len(values))), len(values))
	}

	acc := distfit.NewAccumulator(opts)
	tc := charlm.DefaultTrainConfig()
	tc.Steps, tc.Seed = p.Profile.CaptureSteps, p.Seeds[0]
	capture, err := charlm.Capture(charlm.CaptureConfig{Train: tc, Kinds: []string{tensorkind.Activations, tensorkind.Gradients},
		Every: 1, FromCheckpoint: ckpt, Backend: p.Backend}, acc)
	if err != nil {
		return nil, err
	}
	_ = acc.Each(func(kind, name string, total int, sample []float64) error {
		if total >= p.Profile.EvidenceMinSize {
			add(kind, name, sample, total)
		}
		return nil
	})
	ev.Source = fmt.Sprintf("weights of %s (%d tensors of >= %d values); activations and gradients of a live capture of %s",
		ckpt, countKind(ev.Reports, tensorkind.Weights), p.Profile.EvidenceMinSize, capture)
	ev.Summary = distfit.Summarize(ev.Reports)

	for _, kind := range tensorkind.All {
		n := 0
		for _, layer := range representativeLayers {
			i := representative(ev.Reports, kind, layer)
			if i < 0 || n == plotsPerKind {
				continue
			}
			r := ev.Reports[i]
			path, rel, err := p.figure(prefix + "-" + kind + "-" + distfit.PlotFileName(r.Name, ".png"))
			if err != nil {
				return nil, err
			}
			if err := distfit.PlotTensor(path, samples[kind+r.Name], r); err != nil {
				return nil, err
			}
			ev.figures = append(ev.figures, Figure{File: rel, Caption: fmt.Sprintf("%s %s: histogram (log density) with the fitted GG, Gaussian and Laplacian", kind, r.Name)})
			n++
		}
	}
	if len(ev.Reports) > 0 {
		path, rel, err := p.figure(prefix + "-betas.png")
		if err != nil {
			return nil, err
		}
		if err := distfit.PlotBetas(path, ev.Reports, "GG shape (MLE) per tensor"); err != nil {
			return nil, err
		}
		ev.figures = append(ev.figures, Figure{File: rel, Caption: "GG shape fitted (maximum likelihood) per tensor"})
	}
	return ev, nil
}

// countKind returns the number of reports of a kind.
func countKind(reports []distfit.TensorReport, kind string) int {
	n := 0
	for _, r := range reports {
		if r.Kind == kind {
			n++
		}
	}
	return n
}

// table returns the fits per kind (all layers, then each layer kind).
func (ev *Evidence) table() string {
	t := &study.Table{Header: []string{"kind", "layers", "tensors", "GG best (KS)", "Gaussian best", "Laplacian best",
		"GG not rejected (KS, 1%)", "median β (MLE)", "β range (MLE)"}, LeftColumns: 2}
	row := func(kind, layer string, g distfit.Group) {
		t.AddRow(kind, layer, fmt.Sprint(g.Tensors), fmt.Sprint(g.Best[distfit.ModelGG]), fmt.Sprint(g.Best[distfit.ModelGaussian]),
			fmt.Sprint(g.Best[distfit.ModelLaplacian]), fmt.Sprint(g.GGNotRejected), fmt.Sprintf("%.2f", g.MedianBetaMLE),
			fmt.Sprintf("%.2f–%.2f", g.MinBetaMLE, g.MaxBetaMLE))
	}
	for _, kind := range tensorkind.All {
		g, ok := ev.Summary.ByKind[kind]
		if !ok {
			continue
		}
		row(kind, "all", g)
		for _, layer := range distfit.LayerKinds {
			if lg, ok := ev.Summary.ByLayer[kind+"/"+layer]; ok {
				row(kind, layer, lg)
			}
		}
	}
	return t.String()
}

// notes returns the tensors not fitted.
func (ev *Evidence) notes() []string {
	var notes []string
	for _, s := range ev.Skipped {
		notes = append(notes, fmt.Sprintf("not fitted: %s: %s", s.Name, s.Reason))
	}
	return notes
}

// peakyBeta is the median shape below which weights count as clearly peakier
// than Gaussian (beta 2): a model a few steps from a Gaussian initialization
// fits beta 1.95-2 and must not count.
const peakyBeta = 1.9

// claims returns the verdicts of the GG claim on the model's tensors: for
// each kind, GG fits best (smallest KS distance) for most tensors; weights
// with beta <= peakyBeta (median); with gradients, peakier than the weights.
func (ev *Evidence) claims(model string, gradients bool) []Claim {
	kinds := []string{tensorkind.Weights, tensorkind.Activations}
	if gradients {
		kinds = append(kinds, tensorkind.Gradients)
	}
	var claims []Claim
	w := ev.Summary.ByKind[tensorkind.Weights]
	for _, kind := range kinds {
		g, ok := ev.Summary.ByKind[kind]
		c := Claim{
			Claim:     fmt.Sprintf("the %s of %s are generalized Gaussian", kind, model),
			Criterion: "GG has the smallest KS distance (vs the Gaussian and the Laplacian) for most tensors",
		}
		switch kind {
		case tensorkind.Weights:
			c.Claim = fmt.Sprintf("the weights of %s are generalized Gaussian with β < 2", model)
			c.Criterion += fmt.Sprintf(", and the median β (MLE) is <= %g (clearly below a Gaussian's 2)", peakyBeta)
		case tensorkind.Gradients:
			c.Claim = fmt.Sprintf("the gradients of %s are generalized Gaussian, peakier than its weights", model)
			c.Criterion += ", and their median β is below the weights'"
		}
		if !ok || g.Tensors == 0 {
			c.Measured, c.Reproduced = "no tensor fitted", NotMeasured
			claims = append(claims, c)
			continue
		}
		best := g.Best[distfit.ModelGG]
		ok = 2*best > g.Tensors
		c.Measured = fmt.Sprintf("GG best for %d/%d, median β %.2f", best, g.Tensors, g.MedianBetaMLE)
		switch kind {
		case tensorkind.Weights:
			ok = ok && g.MedianBetaMLE <= peakyBeta
		case tensorkind.Gradients:
			ok = ok && w.Tensors > 0 && g.MedianBetaMLE < w.MedianBetaMLE
			c.Measured += fmt.Sprintf(" vs weights' %.2f", w.MedianBetaMLE)
		}
		c.Reproduced = verdict(ok)
		claims = append(claims, c)
	}
	return claims
}
