package paper

import (
	"encoding/json"
	"errors"
	"fmt"
	"github.com/ggprior/ggprior/internal/stats"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/ggprior/ggprior/internal/mnist"
	"github.com/ggprior/ggprior/internal/study"
)

// mnistConfigs are the configurations of the MNIST stage, by name: the MLP
// classifier with He or GG initialization, each plain, with ACT (target
// sparsity 0.9 after every hidden layer) or with GCT (Adam in optimizers.GCT
// at its default bits).
var MNISTConfigs = map[string]func(cfg *mnist.Config){
	"he":                func(cfg *mnist.Config) { cfg.Init = mnist.InitHe },
	"he-act0.9":         func(cfg *mnist.Config) { cfg.Init, cfg.ACT = mnist.InitHe, 0.9 },
	"he-gct":            func(cfg *mnist.Config) { cfg.Init, cfg.Compress = mnist.InitHe, mnist.CompressGCT },
	"gg-beta1.4":        func(cfg *mnist.Config) { cfg.Init, cfg.Beta = mnist.InitGG, 1.4 },
	"gg-beta1.4-act0.9": func(cfg *mnist.Config) { cfg.Init, cfg.Beta, cfg.ACT = mnist.InitGG, 1.4, 0.9 },
	"gg-beta1.4-gct":    func(cfg *mnist.Config) { cfg.Init, cfg.Beta, cfg.Compress = mnist.InitGG, 1.4, mnist.CompressGCT },
}

// mnistBaselines maps a GG configuration of MNISTConfigs to its He
// counterpart: the same run (same ACT, same GCT) with He initialization. The
// stage runs a configuration's baseline with it, even where the profile does
// not list the baseline, and compares the two paired by seed, so that GG with
// ACT is measured against He with ACT, not against plain He.
var mnistBaselines = map[string]string{
	"gg-beta1.4":        "he",
	"gg-beta1.4-act0.9": "he-act0.9",
	"gg-beta1.4-gct":    "he-gct",
}

// mnistConfigs returns the configurations the stage runs for a profile's
// list: the list, with the baseline of each configuration (MNISTBaselines)
// inserted before it where the list lacks it.
func mnistConfigs(list []string) []string {
	var out []string
	for _, name := range list {
		if base, ok := mnistBaselines[name]; ok && !slices.Contains(list, base) && !slices.Contains(out, base) {
			out = append(out, base)
		}
		if !slices.Contains(out, name) {
			out = append(out, name)
		}
	}
	return out
}

// mnistStage trains the MLP classifier of examples/mnist (another
// architecture and task than charlm) with He and GG initialization, plain,
// with ACT and with GCT. When the data cannot be had (no local copy, no Go
// module cache or proxy, no network), the stage is skipped with a one-line
// notice, and runs again next time.
type mnistStage struct{}

func (mnistStage) Name() string  { return "mnist" }
func (mnistStage) Title() string { return "Another architecture and task: an MLP classifier on MNIST" }

func (mnistStage) Needs(*Plan) []Need { return nil }

// mnistSecPerStep estimates the time of an MNIST step (MLP 784-256-256-10,
// batch 128, on the pure-Go backend: 6 ms on 2 idle cores, several times
// more on busy ones).
const mnistSecPerStep = 0.02

func (mnistStage) ExtraSeconds(p *Plan) float64 {
	return 5 + float64(len(mnistConfigs(p.Profile.MNISTConfigs))*len(p.Seeds)*p.Profile.MNISTSteps)*mnistSecPerStep
}

// MNISTRow is the MNIST stage's measurements of one configuration, over seeds.
type MNISTRow struct {
	Config string  `json:"config"`
	Label  string  `json:"label"`
	Seeds  []int64 `json:"seeds"`
	// Accuracy is the test accuracy (fraction of the 10,000 test images),
	// AccuracyPerSeed its value at each of Seeds.
	Accuracy        stats.MeanStd `json:"test_accuracy"`
	AccuracyPerSeed []float64     `json:"test_accuracy_per_seed"`
	Loss            stats.MeanStd `json:"test_loss"`
	// Sparsity is ACT's achieved sparsity; GradBits GCT's coded bits per gradient element.
	Sparsity stats.MeanStd `json:"act_sparsity"`
	GradBits stats.MeanStd `json:"gct_bits_per_element"`
	// WeightBits is the coded size of the trained weights (int8 + Exp-Golomb), bits per weight.
	WeightBits stats.MeanStd `json:"coded_bits_per_weight"`
	// MsPerStep is the mean time of a training step, in milliseconds.
	MsPerStep stats.MeanStd `json:"ms_per_step"`
}

// MNISTPair compares a GG configuration with its He baseline
// (MNISTBaselines), paired by seed.
type MNISTPair struct {
	Config   string `json:"config"`
	Baseline string `json:"baseline"`
	// Seeds are the seeds both ran at.
	Seeds []int64 `json:"seeds"`
	// AccuracyDiff is the configuration's test accuracy minus the baseline's
	// at the same seed (a fraction), over Seeds.
	AccuracyDiff stats.MeanStd `json:"test_accuracy_diff"`
	// Significant is whether AccuracyDiff differs from zero by a two-sided
	// t-test at 5%; Tested is false when the test cannot be made (one seed,
	// or no spread).
	Significant bool `json:"significant_at_5pct"`
	Tested      bool `json:"tested"`
}

func (s mnistStage) Run(p *Plan) (*StageResult, error) {
	data, err := mnist.LoadOrDownload(p.MNISTDir)
	if errors.Is(err, mnist.ErrUnavailable) {
		return &StageResult{Skipped: err.Error()}, nil
	}
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(p.Runner.Dir, "mnist")
	configs := mnistConfigs(p.Profile.MNISTConfigs)
	var rows []MNISTRow
	var curves [][][2]float64 // Per row, the training loss, mean over seeds.
	t := &study.Table{Header: []string{"config", "model", "seeds", "test accuracy", "test loss", "ACT sparsity", "GCT bits/element",
		"coded bits/weight", "ms/step"}, LeftColumns: 2}
	var commands []Command
	for _, name := range configs {
		row := MNISTRow{Config: name}
		var loss, sparsity, gbits, wbits, ms []float64
		var results []*mnist.Results
		for _, seed := range p.Seeds {
			r, err := s.run(p, data, dir, name, seed)
			if err != nil {
				return nil, err
			}
			results = append(results, r)
			row.Label, row.Seeds = r.Label, append(row.Seeds, seed)
			row.AccuracyPerSeed, loss = append(row.AccuracyPerSeed, r.TestAccuracy), append(loss, r.TestLoss)
			wbits, ms = append(wbits, r.CodedSize.BitsPerWeight), append(ms, 1e3*r.SecondsPerStep)
			if r.ACT != nil {
				sparsity = append(sparsity, r.ACT.Sparsity)
			}
			if r.GCT != nil {
				gbits = append(gbits, r.GCT.BitsPerElement)
			}
		}
		row.Accuracy, row.Loss, row.WeightBits = stats.NewMeanStd(row.AccuracyPerSeed), stats.NewMeanStd(loss), stats.NewMeanStd(wbits)
		row.Sparsity, row.GradBits, row.MsPerStep = stats.NewMeanStd(sparsity), stats.NewMeanStd(gbits), stats.NewMeanStd(ms)
		rows = append(rows, row)
		curves = append(curves, meanTrainLoss(results))
		t.AddRow(name, row.Label, study.FormatSeeds(row.Seeds), formatAccuracy(row.Accuracy), study.FormatMeanStd(row.Loss, 4),
			formatPct(row.Sparsity), study.FormatMeanStd(row.GradBits, 3), study.FormatMeanStd(row.WeightBits, 3),
			study.FormatMeanStd(row.MsPerStep, 1))
		commands = append(commands, Command{Row: name, Command: mnistCommand(results[0].Config)})
	}
	pairs := mnistPairs(rows)
	res := &StageResult{Data: map[string]any{"data": p.MNISTDir, "steps": p.Profile.MNISTSteps, "rows": rows, "pairs": pairs}}
	res.Tables = []Table{{Caption: fmt.Sprintf("MLP classifier (examples/mnist, 784-256-256-10, ReLU, Adam 1e-3) after %d steps of batch 128; "+
		"test accuracy and loss on the 10,000 test images, mean ± sample standard deviation over seeds. "+
		"ACT: target sparsity 0.9 after each hidden layer; GCT: Adam in optimizers.GCT at its default bits.",
		p.Profile.MNISTSteps), Markdown: t.String(), Commands: commands}}
	if len(pairs) > 0 {
		pt := &study.Table{Header: []string{"GG config", "He baseline", "seeds", "GG test accuracy", "He test accuracy",
			"GG − He (paired)", "t", "significant at 5%"}, LeftColumns: 2}
		for _, pair := range pairs {
			gg, he := rowOf(rows, pair.Config), rowOf(rows, pair.Baseline)
			pt.AddRow(pair.Config, pair.Baseline, study.FormatSeeds(pair.Seeds), formatAccuracy(gg.Accuracy), formatAccuracy(he.Accuracy),
				formatPoints(pair.AccuracyDiff), formatT(pair.AccuracyDiff), formatSignificant(pair))
		}
		res.Tables = append(res.Tables, Table{Caption: "GG initialization against He, each with the same ACT or GCT: " +
			"test accuracy difference at the same seed (percentage points), mean ± sample standard deviation over seeds, " +
			"its t statistic and a two-sided t-test at 5% (with 3 seeds, |t| > 4.30).", Markdown: pt.String()})
	}
	fig, err := mnistFigure(p, rows, curves)
	if err != nil {
		return nil, err
	}
	res.Figures = []Figure{fig}
	res.Claims = mnistClaims(rows, pairs)
	return res, nil
}

// rowOf returns the row of config (which must be in rows).
func rowOf(rows []MNISTRow, config string) MNISTRow {
	return rows[slices.IndexFunc(rows, func(r MNISTRow) bool { return r.Config == config })]
}

// mnistPairs returns the comparisons of each row with its baseline
// (MNISTBaselines), where both ran, paired by seed.
func mnistPairs(rows []MNISTRow) []MNISTPair {
	var pairs []MNISTPair
	for _, row := range rows {
		base, ok := mnistBaselines[row.Config]
		if !ok {
			continue
		}
		i := slices.IndexFunc(rows, func(r MNISTRow) bool { return r.Config == base })
		if i < 0 {
			continue
		}
		pair := MNISTPair{Config: row.Config, Baseline: base}
		var diffs []float64
		for j, seed := range row.Seeds {
			if k := slices.Index(rows[i].Seeds, seed); k >= 0 {
				pair.Seeds = append(pair.Seeds, seed)
				diffs = append(diffs, row.AccuracyPerSeed[j]-rows[i].AccuracyPerSeed[k])
			}
		}
		if len(diffs) == 0 {
			continue
		}
		pair.AccuracyDiff = stats.NewMeanStd(diffs)
		pair.Significant, pair.Tested = pair.AccuracyDiff.Significant(0.05)
		pairs = append(pairs, pair)
	}
	return pairs
}

// meanTrainLoss returns the training-loss curve averaged over runs, at the
// steps all of them logged.
func meanTrainLoss(runs []*mnist.Results) [][2]float64 {
	var curve [][2]float64
	for _, pt := range runs[0].TrainLoss {
		sum, n := 0.0, 0
		for _, r := range runs {
			if k := slices.IndexFunc(r.TrainLoss, func(q mnist.LossPoint) bool { return q.Step == pt.Step }); k >= 0 {
				sum += r.TrainLoss[k].Loss
				n++
			}
		}
		if n == len(runs) {
			curve = append(curve, [2]float64{float64(pt.Step), sum / float64(n)})
		}
	}
	return curve
}

// mnistFigure draws each configuration's training loss (mean over seeds)
// against the step, from the tenth of the run on (the first steps' loss,
// near ln 10, would flatten the rest).
func mnistFigure(p *Plan, rows []MNISTRow, curves [][][2]float64) (Figure, error) {
	plot := &study.XYPlot{Title: fmt.Sprintf("MNIST MLP, %d steps of batch 128", p.Profile.MNISTSteps),
		XLabel: "step", YLabel: "training loss (mean over each logged interval and seeds)"}
	from := p.Profile.MNISTSteps / 10
	for i, row := range rows {
		series := study.XYSeries{Name: row.Config}
		for _, pt := range curves[i] {
			if int(pt[0]) >= from {
				series.Points = append(series.Points, pt)
			}
		}
		plot.Series = append(plot.Series, series)
	}
	path, rel, err := p.figure("mnist-train-loss.png")
	if err != nil {
		return Figure{}, err
	}
	if err := plot.Save(path); err != nil {
		return Figure{}, fmt.Errorf("mnist figure: %w", err)
	}
	return Figure{File: rel, Caption: "training loss (mean batch loss over each logged interval; with ACT, plus its small rate term) " +
		"against the step, mean over seeds, per configuration"}, nil
}

// run returns the results of one MNIST run, training it unless its results
// file (in dir) exists.
func (mnistStage) run(p *Plan, data *mnist.Dataset, dir, name string, seed int64) (*mnist.Results, error) {
	path := filepath.Join(dir, study.ResultsFileName("mnist-"+name, seed, p.Profile.MNISTSteps))
	if raw, err := os.ReadFile(path); err == nil {
		var r mnist.Results
		if err := json.Unmarshal(raw, &r); err != nil {
			return nil, fmt.Errorf("mnist run %s: %w", path, err)
		}
		return &r, nil
	}
	cfg := mnist.DefaultConfig()
	cfg.Steps, cfg.Seed = p.Profile.MNISTSteps, seed
	MNISTConfigs[name](&cfg)
	var progress io.Writer
	if !p.progress.quiet {
		progress = p.progress.w
		p.progress.println(fmt.Sprintf("training mnist %s seed %d (%d steps)", name, seed, cfg.Steps))
	}
	r, err := mnist.Run(p.Backend, data, cfg, progress)
	if err != nil {
		return nil, fmt.Errorf("mnist run %s seed %d: %w", name, seed, err)
	}
	encoded, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	return r, writeAtomically(path, append(encoded, '\n'))
}

// mnistCommand returns the examples/mnist command line that re-runs cfg
// (the flags that differ from the command's defaults).
func mnistCommand(cfg mnist.Config) string {
	def := mnist.DefaultConfig()
	args := []string{"go run ./examples/mnist", "-steps " + strconv.Itoa(cfg.Steps), "-seed " + strconv.FormatInt(cfg.Seed, 10)}
	if cfg.Init != def.Init {
		args = append(args, "-init "+cfg.Init)
	}
	if cfg.Init == mnist.InitGG {
		args = append(args, "-beta "+strconv.FormatFloat(cfg.Beta, 'g', -1, 64))
	}
	if cfg.ACT > 0 {
		args = append(args, "-act "+strconv.FormatFloat(cfg.ACT, 'g', -1, 64))
	}
	if cfg.Compress != def.Compress {
		args = append(args, "-compress "+cfg.Compress)
	}
	return strings.Join(args, " ")
}

// mnistClaims returns the verdicts of GG initialization on MNIST, against He
// plain, with ACT and with GCT: GG's mean test accuracy at least He's. The
// paired difference and its significance are given beside.
func mnistClaims(rows []MNISTRow, pairs []MNISTPair) []Claim {
	var claims []Claim
	for _, c := range []struct{ config, with string }{
		{"gg-beta1.4", ""}, {"gg-beta1.4-act0.9", " with ACT (target sparsity 0.9)"}, {"gg-beta1.4-gct", " with GCT"},
	} {
		base := mnistBaselines[c.config]
		claim := Claim{
			Claim:     "GG initialization trains the MNIST MLP" + c.with + " at least as well as He initialization",
			Criterion: fmt.Sprintf("the mean test accuracy of %s (GG, β=1.4) is >= that of %s (He), at the same seeds", c.config, base),
		}
		i := slices.IndexFunc(pairs, func(p MNISTPair) bool { return p.Config == c.config })
		if i < 0 {
			if c.config != "gg-beta1.4" {
				continue // Not in the profile: no claim.
			}
			claim.Measured, claim.Reproduced = c.config+" and "+base+" not both run", NotMeasured
			claims = append(claims, claim)
			continue
		}
		pair := pairs[i]
		gg, he := rowOf(rows, c.config), rowOf(rows, base)
		claim.Measured = fmt.Sprintf("GG %s, He %s; paired by seed, GG − He %s", formatAccuracy(gg.Accuracy), formatAccuracy(he.Accuracy),
			formatPoints(pair.AccuracyDiff))
		if pair.Tested {
			claim.Measured += fmt.Sprintf(" (t %+.1f, %d seeds; %s)", pair.AccuracyDiff.T(), pair.AccuracyDiff.N, formatSignificant(pair))
		}
		claim.Reproduced = verdict(pair.AccuracyDiff.Mean >= 0)
		claims = append(claims, claim)
	}
	return claims
}

// formatAccuracy gives an accuracy in percent with two decimals: "98.12 ± 0.05%".
func formatAccuracy(m stats.MeanStd) string {
	if m.N == 0 {
		return "—"
	}
	return study.FormatMeanStd(stats.MeanStd{Mean: 100 * m.Mean, Std: 100 * m.Std, N: m.N}, 2) + "%"
}

// formatPoints gives a difference of accuracies in percentage points: "+0.08 ± 0.05 pp".
func formatPoints(m stats.MeanStd) string {
	if m.N < 2 {
		return fmt.Sprintf("%+.2f pp", 100*m.Mean)
	}
	return fmt.Sprintf("%+.2f ± %.2f pp", 100*m.Mean, 100*m.Std)
}

// formatT gives the t statistic of a paired difference, "—" when it has none.
func formatT(m stats.MeanStd) string {
	if t := m.T(); !math.IsNaN(t) {
		return fmt.Sprintf("%+.1f", t)
	}
	return "—"
}

// formatSignificant says whether a pair's difference is significant at 5%.
func formatSignificant(p MNISTPair) string {
	switch {
	case !p.Tested:
		return "not tested"
	case p.Significant:
		return "significant at 5%"
	}
	return "not significant at 5%"
}
