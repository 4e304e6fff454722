package generate

import (
	"fmt"
	"math"
	"slices"

	"github.com/ggprior/ggprior/internal/charlm"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/pkg/errors"
)

// Site indices: the position of a site in charlm.ActivationSites (attn_in,
// mlp_in, mlp_hidden).
const (
	siteAttnIn = iota
	siteMLPIn
	siteMLPHidden
	numSites
)

// Engine is a checkpoint's model, its weights copied to the host, ready to
// decode. It is read-only once loaded: any number of Decoders can use it at once.
type Engine struct {
	// Config is the model's architecture.
	Config charlm.Config
	// Checkpoint is the name of the checkpoint the weights come from.
	Checkpoint string
	// ACTSites are the ACT sites of the model (charlm.ActivationSites order);
	// empty for a model without ACT.
	ACTSites []string

	tokenEmbed []float32 // [vocab, width]
	posEmbed   []float32 // [block, width], gpt only.
	blocks     []block
	finalGain  []float32 // [width]
	finalBias  []float32 // [width], gpt only.
	head       []float32 // [width, vocab]
	// ropeCos and ropeSin are the rotary embedding's cos and sin of each
	// position and frequency, [block, headWidth/2], llama only.
	ropeCos, ropeSin []float32
}

// block is one transformer block's weights (row-major [in, out] kernels, the
// Dense layout). gpt: LayerNorms with gain and bias, fused QKV with bias, MLP
// in and out with biases. llama: RMSNorms (gains only), no biases, and
// mlpIn is the fused [width, 2*hidden] gate and up kernel (gate's columns
// first), as the graph concatenates them.
type block struct {
	norm1Gain, norm1Bias []float32
	qkv, qkvBias         []float32
	out, outBias         []float32
	norm2Gain, norm2Bias []float32
	mlpIn, mlpInBias     []float32
	mlpOut, mlpOutBias   []float32
	// act[s] tells whether site s has ACT, tau[s] its frozen threshold.
	act [numSites]bool
	tau [numSites]float32
	// geluSkip are the GELU inputs the MLP hidden site's threshold zeroes
	// (gpt with ACT there; see geluSkipFor).
	geluSkip geluSkip
}

// Load reads the latest checkpoint of a charlm run in dir (see
// charlm.LoadInferenceCheckpoint) into an Engine. Nothing is written.
func Load(dir string) (*Engine, error) {
	ckpt, err := charlm.LoadInferenceCheckpoint(dir)
	if err != nil {
		return nil, err
	}
	return New(ckpt)
}

// New copies the weights and ACT thresholds of a checkpoint into an Engine.
// Every variable the model reads must be in the checkpoint with the shape its
// architecture gives (a checkpoint of another architecture or size is an
// error naming the variable), and so must the threshold of every ACT site.
func New(ckpt *charlm.InferenceCheckpoint) (*Engine, error) {
	cfg := ckpt.Config
	if err := cfg.Validate(); err != nil {
		return nil, errors.WithMessagef(err, "checkpoint %s", ckpt.Name)
	}
	if cfg.Vocab != 256 {
		return nil, errors.Errorf("checkpoint %s: vocabulary %d, the engine decodes bytes (256)", ckpt.Name, cfg.Vocab)
	}
	e := &Engine{Config: cfg, Checkpoint: ckpt.Name, ACTSites: slices.Clone(ckpt.ACTSites)}
	d, h, gpt := cfg.Width, cfg.Hidden(), cfg.Arch == charlm.ArchGPT
	var err error
	read := func(path string, dims ...int) []float32 {
		if err != nil {
			return nil
		}
		var values []float32
		values, err = readVariable(ckpt, path, dims...)
		return values
	}
	e.tokenEmbed = read("/token_embed/embeddings", cfg.Vocab, d)
	if gpt {
		e.posEmbed = read("/pos_embed/embeddings", cfg.Block, d)
	}
	e.blocks = make([]block, cfg.Layers)
	for l := range e.blocks {
		b := &e.blocks[l]
		p := fmt.Sprintf("/block_%03d/", l)
		if gpt {
			b.norm1Gain, b.norm1Bias = read(p+"ln1/gain", d), read(p+"ln1/offset", d)
			b.qkv, b.qkvBias = read(p+"attn/qkv/weights", d, 3*d), read(p+"attn/qkv/biases", 3*d)
			b.out, b.outBias = read(p+"attn/out/weights", d, d), read(p+"attn/out/biases", d)
			b.norm2Gain, b.norm2Bias = read(p+"ln2/gain", d), read(p+"ln2/offset", d)
			b.mlpIn, b.mlpInBias = read(p+"mlp/in/weights", d, h), read(p+"mlp/in/biases", h)
			b.mlpOut, b.mlpOutBias = read(p+"mlp/out/weights", h, d), read(p+"mlp/out/biases", d)
		} else {
			b.norm1Gain, b.norm2Gain = read(p+"norm1/gain", d), read(p+"norm2/gain", d)
			b.qkv = read(p+"attn/qkv/weights", d, 3*d)
			b.out = read(p+"attn/out/weights", d, d)
			gate, up := read(p+"mlp/gate/weights", d, h), read(p+"mlp/up/weights", d, h)
			if err == nil {
				b.mlpIn = make([]float32, 0, 2*d*h)
				for i := range d {
					b.mlpIn = append(append(b.mlpIn, gate[i*h:(i+1)*h]...), up[i*h:(i+1)*h]...)
				}
			}
			b.mlpOut = read(p+"mlp/down/weights", h, d)
		}
		if err != nil {
			return nil, err
		}
		for _, site := range e.ACTSites {
			s := slices.Index(charlm.ActivationSites, site)
			tau := read(charlm.ACTThresholdPath(l, site))
			if err != nil {
				return nil, errors.WithMessagef(err, "ACT at %s", site)
			}
			if t := tau[0]; !(t >= 0) || math.IsInf(float64(t), 0) {
				return nil, errors.Errorf("checkpoint %s: ACT threshold %g of block %d's %s: want a finite value >= 0", ckpt.Name, t, l, site)
			}
			b.act[s], b.tau[s] = true, tau[0]
		}
		b.geluSkip = noGeluSkip
		if gpt && b.act[siteMLPHidden] {
			b.geluSkip = geluSkipFor(b.tau[siteMLPHidden])
		}
	}
	e.finalGain = read("/final_norm/gain", d)
	if gpt {
		e.finalBias = read("/final_norm/offset", d)
	}
	e.head = read("/head/weights", d, cfg.Vocab)
	if err != nil {
		return nil, err
	}
	if !gpt {
		e.ropeCos, e.ropeSin = ropeTables(cfg.Block, cfg.HeadWidth(), cfg.RoPEBase)
	}
	return e, nil
}

// readVariable returns the values of the Float32 variable at path, checking
// its shape (dims; none for a scalar).
func readVariable(ckpt *charlm.InferenceCheckpoint, path string, dims ...int) ([]float32, error) {
	v := ckpt.Store.GetVariable(path)
	if v == nil {
		return nil, errors.Errorf("checkpoint %s in %s has no variable %q: not a checkpoint of a %s model", ckpt.Name, ckpt.Dir, path, ckpt.Config)
	}
	value, err := v.Value()
	if err != nil {
		return nil, errors.WithMessagef(err, "checkpoint %s: variable %q", ckpt.Name, path)
	}
	shape := value.Shape()
	if shape.DType != dtypes.Float32 || !slices.Equal(shape.Dimensions, dims) {
		return nil, errors.Errorf("checkpoint %s: variable %q is %s, a %s model wants %s",
			ckpt.Name, path, shape, ckpt.Config, shapes.Make(dtypes.Float32, dims...))
	}
	return tensors.CopyFlatData[float32](value)
}

// ropeTables returns the cos and sin of the rotary embedding's angles,
// [block, headWidth/2], computed as GoMLX's pos.RoPE computes them in
// float32: frequency i is 1/base^(i*2/headWidth), the angle of position p is
// p times it, each step rounded to float32.
func ropeTables(blockLen, headWidth int, base float64) (cos, sin []float32) {
	half := headWidth / 2
	freqs := make([]float32, half)
	step := float32(2 / float64(headWidth))
	for i := range freqs {
		freqs[i] = 1 / float32(math.Pow(float64(float32(base)), float64(float32(i)*step)))
	}
	cos, sin = make([]float32, blockLen*half), make([]float32, blockLen*half)
	for p := range blockLen {
		for i, f := range freqs {
			angle := float64(float32(p) * f)
			cos[p*half+i], sin[p*half+i] = float32(math.Cos(angle)), float32(math.Sin(angle))
		}
	}
	return cos, sin
}

// HasACT reports whether the model has ACT sites (whose zeros the sparse path skips).
func (e *Engine) HasACT() bool { return len(e.ACTSites) > 0 }

// Thresholds returns the frozen ACT threshold of each site, keyed
// "block_LLL/<site>" as charlm's results name them.
func (e *Engine) Thresholds() map[string]float64 {
	out := map[string]float64{}
	for l, b := range e.blocks {
		for s, on := range b.act {
			if on {
				out[siteName(l, s)] = float64(b.tau[s])
			}
		}
	}
	return out
}

// siteName is "block_LLL/<site>".
func siteName(layer, site int) string {
	return fmt.Sprintf("block_%03d/%s", layer, charlm.ActivationSites[site])
}
