package generate

import (
	"github.com/ggprior/ggprior/internal/charlm"
	"github.com/gomlx/compute"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/support/exceptions"
	"github.com/pkg/errors"
)

// GraphForward runs a checkpoint's model as a GoMLX graph, without a KV
// cache: the reference the engine is checked and measured against. Windows
// are padded to the block (the causal mask keeps the padding from reaching
// the real positions), so one compiled graph serves every window length.
type GraphForward struct {
	cfg  charlm.Config
	exec *model.Exec
}

// NewGraphForward returns the graph forward of ckpt on backend (see
// charlm.InferenceCheckpoint.LogitsExec).
func NewGraphForward(ckpt *charlm.InferenceCheckpoint, backend compute.Backend) (*GraphForward, error) {
	exec, err := ckpt.LogitsExec(backend)
	if err != nil {
		return nil, err
	}
	return &GraphForward{cfg: ckpt.Config, exec: exec}, nil
}

// Close frees the compiled graph.
func (g *GraphForward) Close() { g.exec.Finalize() }

// Positions returns the logits at every position of each window (each 1 to
// Block bytes): [window][position][vocab].
func (g *GraphForward) Positions(windows [][]byte) ([][][]float32, error) {
	block, vocab := g.cfg.Block, g.cfg.Vocab
	tokens := make([]int32, len(windows)*block)
	for i, w := range windows {
		if len(w) == 0 || len(w) > block {
			return nil, errors.Errorf("window %d has %d bytes: want 1 to %d", i, len(w), block)
		}
		for p, b := range w {
			tokens[i*block+p] = int32(b)
		}
	}
	var flat []float32
	err := exceptions.TryCatch[error](func() {
		out, err := g.exec.Call(tensors.FromFlatDataAndDimensions(tokens, len(windows), block))
		if err != nil {
			panic(err)
		}
		flat, err = tensors.CopyFlatData[float32](out[0])
		for _, t := range out {
			_ = t.FinalizeAll()
		}
		if err != nil {
			panic(err)
		}
	})
	if err != nil {
		return nil, errors.WithMessage(err, "graph forward")
	}
	out := make([][][]float32, len(windows))
	for i, w := range windows {
		out[i] = make([][]float32, len(w))
		for p := range w {
			at := (i*block + p) * vocab
			out[i][p] = flat[at : at+vocab]
		}
	}
	return out, nil
}

// Last returns the logits of each window's last byte: [window][vocab].
func (g *GraphForward) Last(windows [][]byte) ([][]float32, error) {
	all, err := g.Positions(windows)
	if err != nil {
		return nil, err
	}
	out := make([][]float32, len(all))
	for i, w := range all {
		out[i] = w[len(w)-1]
	}
	return out, nil
}

// Greedy decodes n bytes per prompt greedily with one graph forward per
// step, the windows moving as the engine's do (see the package
// documentation).
func (g *GraphForward) Greedy(prompts [][]byte, n int) ([][]byte, error) {
	block := g.cfg.Block
	windows := make([][]byte, len(prompts))
	for i, p := range prompts {
		if len(p) == 0 {
			return nil, errors.Errorf("prompt %d is empty", i)
		}
		windows[i] = append(make([]byte, 0, block), p[max(0, len(p)-block):]...)
	}
	out := make([][]byte, len(prompts))
	smp := newSampler(Options{})
	for step := range n {
		logits, err := g.Last(windows)
		if err != nil {
			return nil, err
		}
		for i := range windows {
			b, err := smp.Pick(logits[i])
			if err != nil {
				return nil, errors.WithMessagef(err, "sequence %d, byte %d", i, step)
			}
			out[i] = append(out[i], b)
			if len(windows[i]) == block {
				windows[i] = slideWindow(windows[i], block)
			}
			windows[i] = append(windows[i], b)
		}
	}
	return out, nil
}
