package paper

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/ggprior/ggprior/internal/charlm"
	"github.com/ggprior/ggprior/internal/study"
)

// dpStage measures data-parallel training: W in-process workers, each on
// its shard of every batch, exchanging their gradients through a compressor
// (Profile.DPConfigs), beside the single-process baseline of the same length
// and seed. It tabulates the loss, the bytes a worker sends per step, the
// split of a step's time (compute, encode, exchange, decode, update) and the
// time a step would take over 1, 10 and 100 Gbit/s links, modelled from the
// coded bytes:
//
//	t(link) = compute + encode + decode + update + (W - 1) * coded bytes * 8 / link
//
// (a ring all-gather moves each worker's payload over W-1 links, one after
// the other).
type dpStage struct{}

func (dpStage) Name() string  { return "dp" }
func (dpStage) Title() string { return "Data-parallel training with compressed gradient exchange" }

// linkSpeeds are the link speeds of the modelled step times, in bits per second.
var linkSpeeds = []float64{1e9, 10e9, 100e9}

// dpClaimRatio is the reduction of the bytes a worker sends, against fp32
// gradients, that the communication claim asks of GCT.
const dpClaimRatio = 10

func (dpStage) steps(p *Plan) int {
	if p.Profile.DPSteps > 0 {
		return p.Profile.DPSteps
	}
	return p.Profile.Steps
}

// Needs are the baseline and the data-parallel configurations, at the first
// seed only: the stage measures bytes and time per step.
func (s dpStage) Needs(p *Plan) []Need {
	needs := []Need{{Config: baseline, Seed: p.Seeds[0], Steps: s.steps(p)}}
	for _, c := range p.Profile.DPConfigs {
		needs = append(needs, Need{Config: c, Seed: p.Seeds[0], Steps: s.steps(p)})
	}
	return needs
}

func (dpStage) ExtraSeconds(*Plan) float64 { return 0 }

// DPRow is one run of the data-parallel table.
type DPRow struct {
	Config    string  `json:"config"`
	Workers   int     `json:"workers"`
	Compress  string  `json:"compress"`
	FinalLoss float64 `json:"final_val_loss"`
	// VsBaseline is the final loss's relative difference from the
	// single-process run's.
	VsBaseline float64 `json:"vs_baseline"`
	// Parallel holds the bytes and the step's time split (nil for the
	// single-process run).
	Parallel *charlm.ParallelResults `json:"parallel,omitempty"`
	// CodedVsFP32 is the coded bytes a worker sends per step over the bytes
	// of its gradients in fp32 (4 per parameter).
	CodedVsFP32 float64 `json:"coded_vs_fp32,omitempty"`
	// ModelledStepSeconds is the step time over each of linkSpeeds.
	ModelledStepSeconds []float64 `json:"modelled_step_seconds"`
}

func (s dpStage) Run(p *Plan) (*StageResult, error) {
	needs := s.Needs(p)
	results, err := p.EnsureAll(needs)
	if err != nil {
		return nil, err
	}
	steps := s.steps(p)
	final := func(r *charlm.Results) float64 { return r.ValLoss[strconv.Itoa(steps)] }
	base := final(results[0])
	t := &study.Table{Header: []string{"run", "W", "compress", "final val loss", "vs W=1", "bytes sent/worker/step",
		"coded bytes/worker/step", "coded vs fp32", "compute ms", "encode ms", "exchange ms", "decode ms", "update ms",
		"codec share"}, LeftColumns: 3}
	for _, link := range linkSpeeds {
		t.Header = append(t.Header, fmt.Sprintf("step ms @%g Gbit/s", link/1e9))
	}
	var rows []DPRow
	for i, n := range needs {
		res := results[i]
		row := DPRow{Config: n.Config, Workers: 1, Compress: res.Config.Train.Compress, FinalLoss: final(res),
			VsBaseline: final(res)/base - 1, Parallel: res.ParallelResults}
		if row.Compress == "" {
			row.Compress = charlm.CompressNone
		}
		vs := "baseline"
		if i > 0 {
			vs = fmt.Sprintf("%+.2f%%", 100*row.VsBaseline)
		}
		cells := []string{study.RunName(n.Config, n.Seed, steps)}
		pr := res.ParallelResults
		if pr == nil {
			cells = append(cells, "1", row.Compress, fmt.Sprintf("%.4f", row.FinalLoss), vs, "-", "-", "-", "-", "-", "-", "-", "-", "-")
			for range linkSpeeds {
				row.ModelledStepSeconds = append(row.ModelledStepSeconds, res.SecPerStepMedian)
				cells = append(cells, fmt.Sprintf("%.1f", 1000*res.SecPerStepMedian))
			}
		} else {
			row.Workers = pr.Workers
			row.CodedVsFP32 = pr.CodedBytesPerWorkerPerStep / (4 * float64(res.Params))
			sp := pr.StepTimeSplit
			total := sp.Compute + sp.Encode + sp.Exchange + sp.Decode + sp.Update
			cells = append(cells, strconv.Itoa(row.Workers), row.Compress, fmt.Sprintf("%.4f", row.FinalLoss), vs,
				fmt.Sprintf("%.0f", pr.BytesSentPerWorkerPerStep), fmt.Sprintf("%.0f", pr.CodedBytesPerWorkerPerStep),
				fmt.Sprintf("%.2f%%", 100*row.CodedVsFP32))
			for _, v := range []float64{sp.Compute, sp.Encode, sp.Exchange, sp.Decode, sp.Update} {
				cells = append(cells, fmt.Sprintf("%.1f", 1000*v))
			}
			cells = append(cells, fmt.Sprintf("%.1f%%", 100*(sp.Encode+sp.Decode)/total))
			for _, link := range linkSpeeds {
				m := modelledStep(sp, row.Workers, pr.CodedBytesPerWorkerPerStep, link)
				row.ModelledStepSeconds = append(row.ModelledStepSeconds, m)
				cells = append(cells, fmt.Sprintf("%.1f", 1000*m))
			}
		}
		t.AddRow(cells...)
		rows = append(rows, row)
	}
	res := &StageResult{Data: rows}
	res.Tables = []Table{{Caption: fmt.Sprintf("Data-parallel charlm, %d steps, seed %d: W in-process workers, each on its shard "+
		"of every batch of 12 windows, exchanging gradients through the compressor; the W=1 row is the single-process "+
		"baseline. Step time over a link of L bit/s: compute + encode + decode + update + (W-1) × coded bytes × 8 / L "+
		"(ring all-gather); fp32 = 4 bytes per parameter; codec share = (encode + decode) / measured step; bytes sent: "+
		"as exchanged (GCT's coded frames; the baselines' gradients decoded, as fp32).", steps, p.Seeds[0]),
		Markdown: t.String(), Commands: p.commandsSteps(needs)}}
	res.Claims = []Claim{dpClaim(rows)}
	return res, nil
}

// dpClaim judges the communication claim: with GCT, every data-parallel
// worker sends at least dpClaimRatio times fewer coded bytes than fp32
// gradients, at a final loss within 2% of the single-process run.
func dpClaim(rows []DPRow) Claim {
	c := Claim{Claim: "GCT makes the gradients data-parallel workers exchange cost far fewer bits than fp32, at no loss",
		Criterion: fmt.Sprintf("every data-parallel GCT run codes its gradients >= %dx smaller than fp32 at a final loss within 2%% of the single-process run", dpClaimRatio)}
	var measured []string
	ok, any := true, false
	for _, r := range rows {
		if r.Parallel == nil || !isGCT(r.Compress) {
			continue
		}
		any = true
		ratio := 1 / r.CodedVsFP32
		ok = ok && ratio >= dpClaimRatio && r.VsBaseline <= 0.02
		measured = append(measured, fmt.Sprintf("W=%d: %.1fx smaller, %+.2f%%", r.Workers, ratio, 100*r.VsBaseline))
	}
	if !any {
		c.Measured, c.Reproduced = "no data-parallel GCT run at this profile", NotMeasured
		return c
	}
	c.Measured, c.Reproduced = strings.Join(measured, "; "), verdict(ok)
	return c
}

// modelledStep returns the time in seconds of a data-parallel step of
// `workers` workers whose payloads are `bytes` each, over links of `link`
// bits per second: the measured compute, encode, decode and update, plus a
// ring all-gather's transfer, (W-1) payloads through each worker's link.
func modelledStep(sp charlm.StepTimeSplit, workers int, bytes, link float64) float64 {
	return sp.Compute + sp.Encode + sp.Decode + sp.Update + float64(workers-1)*bytes*8/link
}

// isGCT reports whether a charlm -compress value is GCT's own quantizer
// ("gct", "gct:B", "gct-rans" or "gct-rans:B").
func isGCT(compress string) bool {
	name, _, _ := strings.Cut(compress, ":")
	return name == "gct" || name == "gct-rans"
}
