package paper

import (
	"fmt"
	"strings"

	"github.com/ggprior/ggprior/internal/codedsize"
	"github.com/ggprior/ggprior/internal/study"
)

// sizeStage measures the coded size of trained weights (int8 quantization
// per tensor, then Exp-Golomb coding: internal/codedsize) of the
// baseline, the GG-initialized runs and the ACT runs (first seed, final
// checkpoints), beside their raw fp32 size.
type sizeStage struct{}

func (sizeStage) Name() string  { return "size" }
func (sizeStage) Title() string { return "Smaller models: coded size of the trained weights" }

// configs returns the runs whose weights are coded: the baseline, the GG
// initializations of the init study and the ACT runs.
func (sizeStage) configs(p *Plan) []string {
	configs := []string{baseline}
	for _, c := range append(p.Profile.InitConfigs, p.Profile.ACTConfigs...) {
		if hasPrefixAny(c, "gg-", "act-") {
			configs = append(configs, c)
		}
	}
	return configs
}

func (s sizeStage) Needs(p *Plan) []Need {
	var needs []Need
	for _, c := range s.configs(p) {
		needs = append(needs, Need{Config: c, Seed: p.Seeds[0], Weights: true})
	}
	return needs
}

func (s sizeStage) ExtraSeconds(p *Plan) float64 { return 2 * float64(len(s.configs(p))) }

// SizeRow is the coded size of one run's weights.
type SizeRow struct {
	Config    string           `json:"config"`
	FinalLoss float64          `json:"final_val_loss"`
	Report    codedsize.Report `json:"coded_size"`
}

func (s sizeStage) Run(p *Plan) (*StageResult, error) {
	configs := s.configs(p)
	results, err := p.EnsureAll(s.Needs(p))
	if err != nil {
		return nil, err
	}
	var rows []SizeRow
	t := &study.Table{Header: []string{"run", "final val loss", "weights", "fp32 bits/weight", "int8 bits/weight",
		"coded bits/weight", "× smaller than fp32", "vs " + baseline}, LeftColumns: 1}
	for i, c := range configs {
		rep, err := codedsize.Checkpoint(p.CheckpointDir(c, p.Seeds[0]))
		if err != nil {
			return nil, err
		}
		row := SizeRow{Config: c, FinalLoss: results[i].ValLoss[fmt.Sprint(p.Profile.Steps)], Report: rep}
		rows = append(rows, row)
		vs := "baseline"
		if i > 0 {
			vs = fmt.Sprintf("%+.2f%%", 100*(rep.BitsPerWeight-rows[0].Report.BitsPerWeight)/rows[0].Report.BitsPerWeight)
		}
		t.AddRow(study.RunName(c, p.Seeds[0], p.Profile.Steps), fmt.Sprintf("%.4f", row.FinalLoss), fmt.Sprint(rep.Params), "32", "8",
			fmt.Sprintf("%.3f", rep.BitsPerWeight), fmt.Sprintf("%.1f", rep.RatioVsFP32), vs)
	}
	res := &StageResult{Data: rows}
	res.Tables = []Table{{Caption: "Coded size of the trained weights (final checkpoint of the first seed): each weight tensor " +
		"quantized to int8 with its own scale, then Exp-Golomb coded with its best order (internal/codedsize; " +
		"header included), against the raw fp32 and int8 sizes.", Markdown: t.String(), Commands: p.Commands(configs)}}
	res.Claims = []Claim{
		sizeClaim(rows, "gg-", "GG initialization gives weights that code smaller than the baseline's"),
		sizeClaim(rows, "act-", "ACT gives weights that code smaller than the baseline's"),
	}
	return res, nil
}

// sizeClaim returns the verdict of a smaller-model claim for the runs whose
// configuration starts with prefix: one codes in fewer bits per weight than
// the baseline (rows[0]).
func sizeClaim(rows []SizeRow, prefix, claim string) Claim {
	c := Claim{Claim: claim, Criterion: "a run's weights code (int8 + Exp-Golomb) in fewer bits per weight than the baseline's"}
	base := rows[0].Report.BitsPerWeight
	var measured []string
	ok := false
	for _, r := range rows[1:] {
		if !strings.HasPrefix(r.Config, prefix) {
			continue
		}
		measured = append(measured, fmt.Sprintf("%s %.3f", r.Config, r.Report.BitsPerWeight))
		ok = ok || r.Report.BitsPerWeight < base
	}
	if len(measured) == 0 {
		c.Measured, c.Reproduced = "no such run at this profile", NotMeasured
		return c
	}
	c.Measured = fmt.Sprintf("baseline %.3f bits/weight; %s", base, strings.Join(measured, ", "))
	c.Reproduced = verdict(ok)
	return c
}
