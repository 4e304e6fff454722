package paper

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"

	"github.com/ggprior/ggprior/internal/mnist"
	"github.com/ggprior/ggprior/internal/study"
)

// MNISTConfigs are the configurations of the MNIST stage, by name: the MLP
// classifier with He or GG initialization, with ACT or GCT.
var MNISTConfigs = map[string]func(cfg *mnist.Config){
	"he":                func(cfg *mnist.Config) { cfg.Init = mnist.InitHe },
	"gg-beta1.4":        func(cfg *mnist.Config) { cfg.Init, cfg.Beta = mnist.InitGG, 1.4 },
	"gg-beta1.4-act0.9": func(cfg *mnist.Config) { cfg.Init, cfg.Beta, cfg.ACT = mnist.InitGG, 1.4, 0.9 },
	"gg-beta1.4-gct":    func(cfg *mnist.Config) { cfg.Init, cfg.Beta, cfg.Compress = mnist.InitGG, 1.4, mnist.CompressGCT },
}

// mnistStage trains the MLP classifier of examples/mnist (another
// architecture and task than charlm) with He and GG initialization, with
// ACT and GCT. When the data cannot be had (no network and no local copy),
// the stage is skipped with a one-line notice, and runs again next time.
type mnistStage struct{}

func (mnistStage) Name() string  { return "mnist" }
func (mnistStage) Title() string { return "Another architecture and task: an MLP classifier on MNIST" }

func (mnistStage) Needs(*Plan) []Need { return nil }

// mnistSecPerStep estimates the time of an MNIST step (MLP 784-256-256-10, batch 128).
const mnistSecPerStep = 0.02

func (mnistStage) ExtraSeconds(p *Plan) float64 {
	return 5 + float64(len(p.Profile.MNISTConfigs)*len(p.Seeds)*p.Profile.MNISTSteps)*mnistSecPerStep
}

// MNISTRow is the MNIST stage's measurements of one configuration, over seeds.
type MNISTRow struct {
	Config   string        `json:"config"`
	Label    string        `json:"label"`
	Seeds    []int64       `json:"seeds"`
	Accuracy study.MeanStd `json:"test_accuracy"`
	Loss     study.MeanStd `json:"test_loss"`
	// Sparsity is ACT's achieved sparsity; GradBits GCT's coded bits per gradient element.
	Sparsity study.MeanStd `json:"act_sparsity"`
	GradBits study.MeanStd `json:"gct_bits_per_element"`
	// WeightBits is the coded size of the trained weights (int8 + Exp-Golomb), bits per weight.
	WeightBits study.MeanStd `json:"coded_bits_per_weight"`
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
	var rows []MNISTRow
	t := &study.Table{Header: []string{"config", "model", "seeds", "test accuracy", "test loss", "ACT sparsity", "GCT bits/element",
		"coded bits/weight"}, LeftColumns: 2}
	for _, name := range p.Profile.MNISTConfigs {
		row := MNISTRow{Config: name}
		var acc, loss, sparsity, gbits, wbits []float64
		for _, seed := range p.Seeds {
			r, err := s.run(p, data, dir, name, seed)
			if err != nil {
				return nil, err
			}
			row.Label, row.Seeds = r.Label, append(row.Seeds, seed)
			acc, loss = append(acc, r.TestAccuracy), append(loss, r.TestLoss)
			wbits = append(wbits, r.CodedSize.BitsPerWeight)
			if r.ACT != nil {
				sparsity = append(sparsity, r.ACT.Sparsity)
			}
			if r.GCT != nil {
				gbits = append(gbits, r.GCT.BitsPerElement)
			}
		}
		row.Accuracy, row.Loss, row.WeightBits = study.NewMeanStd(acc), study.NewMeanStd(loss), study.NewMeanStd(wbits)
		row.Sparsity, row.GradBits = study.NewMeanStd(sparsity), study.NewMeanStd(gbits)
		rows = append(rows, row)
		t.AddRow(name, row.Label, study.FormatSeeds(row.Seeds), formatPct(row.Accuracy), study.FormatMeanStd(row.Loss, 4),
			formatPct(row.Sparsity), study.FormatMeanStd(row.GradBits, 3), study.FormatMeanStd(row.WeightBits, 3))
	}
	res := &StageResult{Data: map[string]any{"data": p.MNISTDir, "rows": rows}}
	res.Tables = []Table{{Caption: fmt.Sprintf("MLP classifier (examples/mnist, hidden 256-256) after %d steps of batch 128; "+
		"test accuracy and loss on the 10,000 test images, mean ± sample standard deviation over seeds. "+
		"Re-run a row with `go run ./examples/mnist -steps %d -init gg -beta 1.4 [-act 0.9] [-compress gct]`.",
		p.Profile.MNISTSteps, p.Profile.MNISTSteps), Markdown: t.String()}}
	res.Claims = []Claim{mnistClaim(rows)}
	return res, nil
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

// mnistClaim returns the verdict of GG initialization on MNIST: test accuracy
// at least He's.
func mnistClaim(rows []MNISTRow) Claim {
	c := Claim{
		Claim:     "GG initialization trains the MNIST MLP at least as well as He initialization",
		Criterion: "the mean test accuracy with GG (β=1.4) is >= He's",
	}
	he := slices.IndexFunc(rows, func(r MNISTRow) bool { return r.Config == "he" })
	gg := slices.IndexFunc(rows, func(r MNISTRow) bool { return r.Config == "gg-beta1.4" })
	if he < 0 || gg < 0 {
		c.Measured, c.Reproduced = "he and gg-beta1.4 not both run", NotMeasured
		return c
	}
	c.Measured = fmt.Sprintf("GG %s, He %s", formatPct(rows[gg].Accuracy), formatPct(rows[he].Accuracy))
	c.Reproduced = verdict(rows[gg].Accuracy.Mean >= rows[he].Accuracy.Mean)
	return c
}
