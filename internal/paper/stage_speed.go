package paper

import (
	"fmt"
	"slices"
	"strings"

	"github.com/ggprior/ggprior/internal/charlm"
	"github.com/ggprior/ggprior/internal/charlm/generate"
	"github.com/ggprior/ggprior/internal/stats"
	"github.com/ggprior/ggprior/internal/study"
)

// speedStage measures what ACT's zeros buy at inference: greedy decoding
// with the host engine (internal/charlm/generate), the dense path against
// the ACT-sparse path (the products after each ACT site skip its zeros) on
// the same weights, for the baseline (a control: no ACT, the two paths are
// one), ACT at the MLP hidden activations (act-0.95-fixed) and ACT at every
// site (act-all-hfixed): charlm's default ACT with those sites, the recipe
// that keeps the loss cost small; from the final checkpoints of their first seed, at batch 1 and
// at the training batch, beside each model's final validation loss over the
// profile's seeds. It also times the GoMLX graph decoding the same bytes
// (one forward of the padded window per byte), the engine's reference.
type speedStage struct{}

func (speedStage) Name() string  { return "speed" }
func (speedStage) Title() string { return "Faster models: decoding speed with ACT's zeros skipped" }

// speedConfigs are the speed stage's models, whatever the profile's ACT
// list: the baseline, ACT at the MLP hidden activations (95%) and ACT at
// every site.
var speedConfigs = []string{baseline, speedMLPHidden, speedAllSites}

// The speed stage's ACT models and its claims' targets (issue "Faster
// models"): batch-1 greedy decoding at least speedMinMLPHidden times faster
// with ACT at the MLP hidden activations, speedMinAllSites times with ACT
// at every site, each at a validation loss within actMaxLossPct of the
// baseline's.
const (
	speedMLPHidden    = "act-0.95-fixed"
	speedAllSites     = "act-all-hfixed"
	speedMinMLPHidden = 1.3
	speedMinAllSites  = 2.0
	// speedDefaultTokens is the decode length when the profile sets none.
	speedDefaultTokens = 100
)

// speedBatches are the decoded batches: one sequence (the claims'), and
// the training batch of 12 windows.
var speedBatches = []int{1, 12}

// tokens returns the number of bytes decoded per sequence.
func (speedStage) tokens(p *Plan) int {
	if p.Profile.SpeedTokens > 0 {
		return p.Profile.SpeedTokens
	}
	return speedDefaultTokens
}

// Needs are the models at every seed (the loss is over seeds), with the
// first seed's final checkpoints (the decoded weights).
func (speedStage) Needs(p *Plan) []Need { return p.Seeded(speedConfigs, speedConfigs...) }

// ExtraSeconds estimates the decoding: per model, batch and round, 16
// decodes of each path, at about 0.13 ms per byte of the benchmark's model,
// plus the graph's compilation and decoding; scaled by the profile's step
// time.
func (s speedStage) ExtraSeconds(p *Plan) float64 {
	scale := p.Profile.SecPerStep[charlm.ArchGPT] / 0.3
	perConfig := 0.0
	for _, b := range speedBatches {
		rounds := 1
		if b == 1 {
			rounds = speedRounds
		}
		perConfig += float64(rounds*2*(generate.DefaultBenchRepeats+1)*s.tokens(p)*b)*1.3e-4 + 5
	}
	return scale * float64(len(speedConfigs)) * perConfig
}

// SpeedRow is one model decoded at one batch size.
type SpeedRow struct {
	Config string `json:"config"`
	Batch  int    `json:"batch"`
	// FinalLoss is the model's final validation loss over the seeds;
	// DiffPct its difference from the baseline's (percent).
	FinalLoss stats.MeanStd `json:"final_val_loss"`
	DiffPct   *float64      `json:"final_diff_pct_vs_baseline,omitempty"`
	// VsBaselineDense is the sparse path's tokens/s over the baseline
	// model's dense path's at the same batch: what ACT buys over the model
	// without it (the ACT models' dense path pays for the thresholds too).
	// The models are measured in turn, not interleaved decode by decode as
	// Bench.Speedup's two paths are: noisier.
	VsBaselineDense float64 `json:"sparse_vs_baseline_dense"`
	// Bench is the engine's measurement (first seed's final checkpoint;
	// at batch 1, speedRounds rounds pooled: Repeats counts them all).
	Bench *generate.BenchResult `json:"bench"`
}

func (s speedStage) Run(p *Plan) (*StageResult, error) {
	if _, err := p.EnsureAll(s.Needs(p)); err != nil {
		return nil, err
	}
	sum, err := p.Aggregate(speedConfigs)
	if err != nil {
		return nil, err
	}
	n, seed := s.tokens(p), p.Seeds[0]
	benches, err := s.bench(p, n)
	if err != nil {
		return nil, err
	}
	var rows []SpeedRow
	for i, c := range speedConfigs {
		for j, b := range benches[i] {
			row := SpeedRow{Config: c, Batch: b.Batch, Bench: b}
			if cs := sum.Config(c); cs != nil {
				row.FinalLoss, row.DiffPct = cs.Final, cs.FinalDiffPct
			}
			if d := benches[0][j].TokensPerSecDense; d > 0 { // speedConfigs[0] is the baseline.
				row.VsBaselineDense = b.TokensPerSecSparse / d
			}
			rows = append(rows, row)
		}
	}

	t := &study.Table{Header: []string{"run", "ACT", "seeds", "final val loss", "vs " + baseline, "batch",
		"dense tokens/s", "sparse tokens/s", "sparse / own dense", "sparse / " + baseline + " dense", "same tokens",
		"decode sparsity by site", "skippable MACs", "dense vs graph"}, LeftColumns: 2}
	for _, r := range rows {
		b := r.Bench
		act, seeds, diff := "none", "—", "—"
		if len(b.ACTSites) > 0 {
			act = strings.Join(b.ACTSites, ", ")
		}
		if cs := sum.Config(r.Config); cs != nil {
			seeds, diff = study.FormatSeeds(cs.Seeds), study.FormatDiff(cs, sum)
		}
		graph := "—"
		if b.GraphTokens > 0 {
			graph = fmt.Sprintf("%.1fx", b.DenseVsGraph)
		}
		t.AddRow(study.RunName(r.Config, seed, p.Profile.Steps), act, seeds, study.FormatMeanStd(r.FinalLoss, 4), diff,
			fmt.Sprint(r.Batch), fmt.Sprintf("%.0f", b.TokensPerSecDense), fmt.Sprintf("%.0f", b.TokensPerSecSparse),
			fmt.Sprintf("%.2fx", b.Speedup), fmt.Sprintf("%.2fx", r.VsBaselineDense), fmt.Sprint(b.SameTokens),
			sparsityBySite(b.SparsityBySite), fmt.Sprintf("%.1f%%", 100*b.SkippableMACs), graph)
	}
	commands := p.Commands(speedConfigs)
	for _, c := range speedConfigs {
		for _, batch := range speedBatches {
			name := study.RunName(c, seed, p.Profile.Steps)
			commands = append(commands, Command{Row: fmt.Sprintf("%s, decoding at batch %d", c, batch),
				Command: fmt.Sprintf("GOEXPERIMENT=simd go run ./examples/charlm -checkpoint %s -bench-decode %d -bench-batch %d -results %s-decode-batch%d.json",
					p.CheckpointDir(c, seed), n, batch, name, batch)})
		}
	}
	res := &StageResult{Data: map[string]any{"decode_tokens": n, "rows": rows}, Notes: study.Notes(sum)}
	res.Tables = []Table{{Caption: fmt.Sprintf("Greedy decoding of %d bytes per sequence with the host engine "+
		"(internal/charlm/generate, KV cache; prompts: windows of half a block of the validation text) from the final "+
		"checkpoint of seed %d: the dense path against the ACT-sparse path (the products after each ACT site skip its "+
		"zeros; the same bits). Tokens/s: tokens over the median time of the timed decodes (each path %d times per "+
		"round, the two paths alternating; batch 1 in %d rounds, the models in turn, pooled). Sparse / %s dense: "+
		"the sparse path against the baseline model's dense path at the same batch (what ACT buys over the model "+
		"without it; the ACT models' dense path also applies the thresholds). Final validation loss: mean ± sample "+
		"standard deviation over the seeds. Decode sparsity: each ACT site's zeros while decoding, averaged over the "+
		"blocks; skippable MACs: the fraction of all the products' multiply-adds the sparse path skips. Dense vs graph: "+
		"the engine's dense tokens/s over the GoMLX graph's (one forward of the padded window per byte, its first %d bytes).",
		n, seed, generate.DefaultBenchRepeats, speedRounds, baseline, min(n, generate.DefaultGraphTokens)),
		Markdown: t.String(), Commands: commands}}
	res.Claims = speedClaims(rows, sum.BaselineFinal != nil)
	return res, nil
}

// speedRounds is the number of rounds of the batch-1 measurements: each
// round benchmarks every model in turn, so that a slower or faster spell of
// the machine (other processes) falls on every model alike.
const speedRounds = 3

// bench loads the first seed's final checkpoint of each of speedConfigs and
// benchmarks its decoding of n bytes at each of speedBatches (batch 1 in
// speedRounds rounds, pooled), the GoMLX graph included: [config][batch].
func (speedStage) bench(p *Plan, n int) ([][]*generate.BenchResult, error) {
	text, err := charlm.DefaultValidationText()
	if err != nil {
		return nil, fmt.Errorf("speed: the prompts: %w", err)
	}
	seed := p.Seeds[0]
	engines := make([]*generate.Engine, len(speedConfigs))
	graphs := make([]*generate.GraphForward, len(speedConfigs))
	defer func() {
		for _, g := range graphs {
			if g != nil {
				g.Close()
			}
		}
	}()
	for i, c := range speedConfigs {
		ckpt, err := charlm.LoadInferenceCheckpoint(p.CheckpointDir(c, seed))
		if err != nil {
			return nil, fmt.Errorf("speed: %w", err)
		}
		if engines[i], err = generate.New(ckpt); err != nil {
			return nil, fmt.Errorf("speed: %w", err)
		}
		if graphs[i], err = generate.NewGraphForward(ckpt, p.Backend); err != nil {
			return nil, fmt.Errorf("speed: %w", err)
		}
	}
	out := make([][]*generate.BenchResult, len(speedConfigs))
	for _, batch := range speedBatches {
		rounds := 1
		if batch == 1 {
			rounds = speedRounds
		}
		for round := range rounds {
			for i, c := range speedConfigs {
				if p.ctx != nil && p.ctx.Err() != nil {
					return nil, ErrInterrupted
				}
				prompts, err := speedPrompts(text, batch, engines[i].Config.Block)
				if err != nil {
					return nil, err
				}
				opt := generate.BenchOptions{}
				if round == 0 {
					opt.Graph = graphs[i]
				}
				r, err := generate.Bench(engines[i], prompts, n, opt)
				if err != nil {
					return nil, fmt.Errorf("speed: %s, batch %d: %w", study.RunName(c, seed, p.Profile.Steps), batch, err)
				}
				if round == 0 {
					out[i] = append(out[i], r)
				} else {
					poolBench(out[i][len(out[i])-1], r)
				}
			}
		}
	}
	return out, nil
}

// poolBench adds the timed decodes of r, a later round of the same
// benchmark, to into, and recomputes into's speeds from all of them.
func poolBench(into, r *generate.BenchResult) {
	into.SecondsDense = append(into.SecondsDense, r.SecondsDense...)
	into.SecondsSparse = append(into.SecondsSparse, r.SecondsSparse...)
	into.Repeats += r.Repeats
	into.SameTokens = into.SameTokens && r.SameTokens
	total := float64(into.Tokens * into.Batch)
	into.TokensPerSecDense = total / stats.Median(into.SecondsDense)
	into.TokensPerSecSparse = total / stats.Median(into.SecondsSparse)
	into.Speedup = into.TokensPerSecSparse / into.TokensPerSecDense
	if into.GraphTokensPerSec > 0 {
		into.DenseVsGraph = into.TokensPerSecDense / into.GraphTokensPerSec
	}
}

// speedPrompts returns batch prompts of half a block each, evenly spaced
// over text: the prompts charlm's -bench-decode decodes after by default.
func speedPrompts(text []byte, batch, block int) ([][]byte, error) {
	size := max(block/2, 1)
	if len(text) < size {
		return nil, fmt.Errorf("the validation text has %d bytes, a prompt %d", len(text), size)
	}
	prompts := make([][]byte, batch)
	for i := range prompts {
		at := i * (len(text) - size) / batch
		prompts[i] = text[at : at+size]
	}
	return prompts, nil
}

// sparsityBySite formats the decode sparsity of each ACT site, averaged
// over the blocks: "attn_in 70.1%, mlp_in 69.8%, mlp_hidden 95.2%"; "—"
// without ACT.
func sparsityBySite(bySite map[string]float64) string {
	var parts []string
	for _, site := range charlm.ActivationSites {
		var sum float64
		k := 0
		for key, v := range bySite {
			if strings.HasSuffix(key, "/"+site) {
				sum += v
				k++
			}
		}
		if k > 0 {
			parts = append(parts, fmt.Sprintf("%s %.1f%%", site, 100*sum/float64(k)))
		}
	}
	if len(parts) == 0 {
		return "—"
	}
	return strings.Join(parts, ", ")
}

// speedClaims returns the verdicts of the speed claims: batch-1 greedy
// decoding >= speedMinMLPHidden times faster with ACT at the MLP hidden
// activations and >= speedMinAllSites times with ACT at every site (than
// the model's own dense path and the baseline's), each decoding the dense
// path's tokens at a mean final loss within actMaxLossPct of the
// baseline's; and the sparse path decoding the dense path's tokens for
// every model and batch.
func speedClaims(rows []SpeedRow, hasBaseline bool) []Claim {
	claims := []Claim{
		speedClaim(rows, speedMLPHidden, "ACT at the MLP hidden activations (95%)", speedMinMLPHidden, hasBaseline),
		speedClaim(rows, speedAllSites, "ACT at every activation site", speedMinAllSites, hasBaseline),
	}
	same := Claim{Claim: "Skipping ACT's zeros changes nothing but the speed: the sparse path decodes the dense path's tokens",
		Criterion: "decode_same_tokens is true for every model and batch (greedy; every timed decode of both paths)"}
	var measured []string
	ok := true
	for _, r := range rows {
		measured = append(measured, fmt.Sprintf("%s batch %d: %v", r.Config, r.Batch, r.Bench.SameTokens))
		ok = ok && r.Bench.SameTokens
	}
	if len(rows) == 0 {
		same.Measured, same.Reproduced = "nothing decoded", NotMeasured
	} else {
		same.Measured, same.Reproduced = strings.Join(measured, ", "), verdict(ok)
	}
	return append(claims, same)
}

// speedClaim judges one speed claim: config's batch-1 sparse path decodes
// >= minSpeedup times the tokens/s of its own dense path and of the
// baseline's dense path, the same tokens, at a mean final loss <= (1 +
// actMaxLossPct/100) times the baseline's.
func speedClaim(rows []SpeedRow, config, what string, minSpeedup float64, hasBaseline bool) Claim {
	c := Claim{
		Claim: fmt.Sprintf("%s makes batch-1 greedy decoding >= %.1fx faster at a validation loss within %.0f%% of the baseline's",
			what, minSpeedup, actMaxLossPct),
		Criterion: fmt.Sprintf("%s, batch 1: the ACT-sparse path's tokens/s >= %.1fx both its own dense path's and the "+
			"baseline model's dense path's (medians of interleaved timed decodes), the same tokens as its dense path, "+
			"and a mean final loss over the seeds <= %.2f x the baseline's", config, minSpeedup, 1+actMaxLossPct/100),
	}
	i := slices.IndexFunc(rows, func(r SpeedRow) bool { return r.Config == config && r.Batch == 1 })
	if i < 0 {
		c.Measured, c.Reproduced = "no "+config+" run decoded at batch 1", NotMeasured
		return c
	}
	r := rows[i]
	diff := "no baseline"
	if r.DiffPct != nil {
		diff = fmt.Sprintf("%+.2f%%", *r.DiffPct)
	}
	c.Measured = fmt.Sprintf("%s: sparse %.0f tokens/s, %.2fx its dense (%.0f), %.2fx the baseline's dense; same tokens %v; loss %s vs the baseline",
		config, r.Bench.TokensPerSecSparse, r.Bench.Speedup, r.Bench.TokensPerSecDense, r.VsBaselineDense, r.Bench.SameTokens, diff)
	if !hasBaseline || r.DiffPct == nil || r.VsBaselineDense == 0 {
		c.Reproduced = NotMeasured
		return c
	}
	c.Reproduced = verdict(min(r.Bench.Speedup, r.VsBaselineDense) >= minSpeedup && r.Bench.SameTokens && *r.DiffPct <= actMaxLossPct)
	return c
}
