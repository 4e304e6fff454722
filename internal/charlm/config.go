package charlm

import (
	"fmt"

	"github.com/pkg/errors"
)

// Architectures known by [Model].
const (
	// ArchGPT is the reference model of the benchmark: learned token and position
	// embeddings, pre-LayerNorm blocks, fused QKV projection with bias, causal
	// attention, exact GELU MLP, final LayerNorm, untied output projection.
	ArchGPT = "gpt"

	// ArchLlama is the Llama-style variant at the same depth and width: RMSNorm,
	// SwiGLU MLP, rotary position embeddings, no biases, no position table.
	ArchLlama = "llama"
)

// defaultLlamaMLPHidden is the SwiGLU hidden size used by [ArchLlama] when
// Config.MLPHidden is 0: 2/3 of the GPT MLP's 4x width (512 * 2/3 = 341.3) rounded
// up to a multiple of 32, so the three SwiGLU matrices hold about as many
// parameters as the GPT's two MLP matrices (3*128*352 = 135,168 vs 131,072).
const defaultLlamaMLPHidden = 352

// Config describes the model architecture. The zero value is not valid: start
// from [DefaultConfig] and change what is needed.
type Config struct {
	// Arch is ArchGPT (default) or ArchLlama.
	Arch string `json:"arch"`

	// Vocab is the vocabulary size: 256 for raw bytes.
	Vocab int `json:"vocab"`

	// Layers is the number of transformer blocks.
	Layers int `json:"layers"`

	// Heads is the number of attention heads; Width must be divisible by it.
	Heads int `json:"heads"`

	// Width is the model (embedding) dimension.
	Width int `json:"width"`

	// Block is the context length: the maximum sequence length.
	Block int `json:"block"`

	// MLPRatio is the MLP hidden size as a multiple of Width, for ArchGPT.
	MLPRatio int `json:"mlp_ratio"`

	// MLPHidden, if > 0, overrides the MLP hidden size. For ArchLlama, 0 means
	// defaultLlamaMLPHidden scaled with the width (see Config.Hidden).
	MLPHidden int `json:"mlp_hidden,omitempty"`

	// NormEpsilon is the epsilon of LayerNorm (gpt) and RMSNorm (llama).
	NormEpsilon float64 `json:"norm_epsilon"`

	// RoPEBase is the base frequency of the rotary embeddings (llama only).
	RoPEBase float64 `json:"rope_base,omitempty"`
}

// DefaultConfig returns the "charlm-small" reference architecture: gpt, vocabulary
// 256, 4 layers, 4 heads, width 128, block 64, MLP 4x, LayerNorm epsilon 1e-5.
// It has 867,072 parameters.
func DefaultConfig() Config {
	return Config{
		Arch:        ArchGPT,
		Vocab:       256,
		Layers:      4,
		Heads:       4,
		Width:       128,
		Block:       64,
		MLPRatio:    4,
		NormEpsilon: 1e-5,
		RoPEBase:    10000,
	}
}

// Validate returns an error describing the first invalid field, if any.
func (c Config) Validate() error {
	switch c.Arch {
	case ArchGPT, ArchLlama:
	default:
		return errors.Errorf("unknown architecture %q: valid values are %q and %q", c.Arch, ArchGPT, ArchLlama)
	}
	for _, f := range []struct {
		name  string
		value int
	}{{"vocab", c.Vocab}, {"layers", c.Layers}, {"heads", c.Heads}, {"width", c.Width}, {"block", c.Block}} {
		if f.value <= 0 {
			return errors.Errorf("model %s must be > 0, got %d", f.name, f.value)
		}
	}
	if c.Width%c.Heads != 0 {
		return errors.Errorf("model width (%d) must be divisible by the number of heads (%d)", c.Width, c.Heads)
	}
	if c.Arch == ArchLlama && (c.Width/c.Heads)%2 != 0 {
		return errors.Errorf("rotary embeddings need an even head width, got %d", c.Width/c.Heads)
	}
	if c.MLPHidden == 0 && c.Arch == ArchGPT && c.MLPRatio <= 0 {
		return errors.Errorf("MLP ratio must be > 0, got %d", c.MLPRatio)
	}
	if c.MLPHidden < 0 {
		return errors.Errorf("MLP hidden size must be >= 0, got %d", c.MLPHidden)
	}
	if c.NormEpsilon <= 0 {
		return errors.Errorf("normalization epsilon must be > 0, got %g", c.NormEpsilon)
	}
	if c.Arch == ArchLlama && c.RoPEBase <= 0 {
		return errors.Errorf("RoPE base frequency must be > 0, got %g", c.RoPEBase)
	}
	return nil
}

// HeadWidth is Width / Heads.
func (c Config) HeadWidth() int { return c.Width / c.Heads }

// Hidden returns the MLP hidden size: MLPHidden if set; otherwise MLPRatio*Width
// for gpt, and for llama 2/3 of 4*Width rounded up to a multiple of 32 (352 for
// width 128, see defaultLlamaMLPHidden).
func (c Config) Hidden() int {
	if c.MLPHidden > 0 {
		return c.MLPHidden
	}
	if c.Arch == ArchLlama {
		h := (8*c.Width + 2) / 3 // ceil(2/3 * 4 * width)
		return (h + 31) / 32 * 32
	}
	return c.MLPRatio * c.Width
}

// NumParams returns the number of parameters the model creates, from the
// closed-form count of each architecture (V vocab, d width, L layers, T block,
// h MLP hidden):
//
//	gpt:   V*d + T*d + L*(2*2d + (3d*d + 3d) + (d*d + d) + (d*h + h) + (h*d + d)) + 2d + d*V
//	llama: V*d + L*(2*d + 3d*d + d*d + 3*d*h) + d + d*V
//
// For DefaultConfig that is 867,072 (gpt) and 869,504 (llama with h=352).
// Tests check it against the variables the model actually creates.
func (c Config) NumParams() int {
	V, d, L, T, h := c.Vocab, c.Width, c.Layers, c.Block, c.Hidden()
	switch c.Arch {
	case ArchLlama:
		return V*d + L*(2*d+3*d*d+d*d+3*d*h) + d + d*V
	default:
		return V*d + T*d + L*(2*2*d+(3*d*d+3*d)+(d*d+d)+(d*h+h)+(h*d+d)) + 2*d + d*V
	}
}

// String returns a one-line summary, e.g. "gpt L4 H4 d128 T64 mlp512 (867,072 params)".
func (c Config) String() string {
	return fmt.Sprintf("%s L%d H%d d%d T%d mlp%d (%s params)", c.Arch, c.Layers, c.Heads, c.Width, c.Block,
		c.Hidden(), humanInt(c.NumParams()))
}

// humanInt formats n with thousands separators.
func humanInt(n int) string {
	s := fmt.Sprintf("%d", n)
	neg := false
	if n < 0 {
		neg, s = true, s[1:]
	}
	out := make([]byte, 0, len(s)+len(s)/3)
	for i, ch := range []byte(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, ch)
	}
	if neg {
		return "-" + string(out)
	}
	return string(out)
}
