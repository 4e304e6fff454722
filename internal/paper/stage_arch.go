package paper

import (
	"fmt"

	"github.com/ggprior/ggprior/internal/charlm"
	"github.com/ggprior/ggprior/internal/study"
)

// archStage runs the init study's baseline and GG initialization on the
// llama architecture, and the GG evidence on the trained llama.
type archStage struct{}

func (archStage) Name() string  { return "arch" }
func (archStage) Title() string { return "Another architecture: llama" }

func (archStage) configs(p *Plan) []string { return withBaseline(llamaBaseline, p.Profile.ArchConfigs) }

func (s archStage) Needs(p *Plan) []Need { return p.Seeded(s.configs(p), llamaBaseline) }

func (archStage) ExtraSeconds(p *Plan) float64 { return evidenceSeconds(p, charlm.ArchLlama) }

func (s archStage) Run(p *Plan) (*StageResult, error) {
	configs := s.configs(p)
	if _, err := p.EnsureAll(s.Needs(p)); err != nil {
		return nil, err
	}
	sum, err := p.Aggregate(configs)
	if err != nil {
		return nil, err
	}
	fig, err := lossFigure(p, sum, "arch-llama-loss.png", "charlm llama: GG initialization")
	if err != nil {
		return nil, err
	}
	ev, err := gatherEvidence(p, llamaBaseline, "arch-llama")
	if err != nil {
		return nil, err
	}
	res := &StageResult{
		Data:    map[string]any{"init": sum, "evidence": ev},
		Figures: append([]Figure{fig}, ev.figures...),
		Notes:   append(study.Notes(sum), ev.notes()...),
		Tables: []Table{
			{Caption: lossCaption(sum), Markdown: study.LossTable(sum).String(), Commands: p.Commands(configs)},
			{Caption: fmt.Sprintf("GG evidence on the trained llama (%s).", ev.Source), Markdown: ev.table()},
		},
	}
	res.Claims = append(initClaims(sum, "llama-gg-", "normal(0, 0.02) on llama"), ev.claims("the trained llama charlm", true)...)
	return res, nil
}
