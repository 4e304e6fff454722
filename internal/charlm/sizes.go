package charlm

import (
	"fmt"
	"strings"

	"github.com/pkg/errors"
)

// Names of the model sizes of the scale ladder (see Sizes).
const (
	// SizeTiny is a 2-layer, width-64 model (136,960 parameters) for
	// smoke tests and quick CPU runs.
	SizeTiny = "tiny"

	// SizeReference is the benchmark's reference model, DefaultConfig
	// ("charlm-small", 867,072 parameters): the default, on every backend.
	SizeReference = "reference"

	// SizeSmall is a 6-layer, width-384 model with a 256-byte context (10,942,464
	// parameters), the scale of nanoGPT's character-level baseline.
	SizeSmall = "small"

	// SizeMedium is an 8-layer, width-512 model with a 512-byte context
	// (25,744,384 parameters).
	SizeMedium = "medium"

	// SizeGPT2Small is GPT-2 small's shape (12 layers, 12 heads, width 768,
	// 1024-byte context) on the byte vocabulary: 86,235,648 parameters, GPT-2
	// small's 124 M less most of its 50,257-token embeddings.
	SizeGPT2Small = "gpt2-small"
)

// DefaultSize is the size of the charlm command's -size flag when it is not
// given: the reference model.
const DefaultSize = SizeReference

// Size is a named model size of charlm's scale ladder: an architecture at a
// depth, width and context length, the rest (vocabulary 256, MLP 4x, norms'
// epsilon, RoPE base) as DefaultConfig has it.
type Size struct {
	// Name selects the size (the -size flag's value).
	Name string
	// Layers, Heads, Width and Block are the Config fields the size sets.
	Layers, Heads, Width, Block int
	// About says what the size is for, in a few words.
	About string
}

// Sizes is the scale ladder, smallest first. The reference and tiny sizes are
// the ones for the pure-Go (CPU) backend; small, medium and gpt2-small are
// meant for an accelerator (XLA). The parameter counts (Config.NumParams) of
// the gpt architecture are:
//
//	tiny        L2  H2  d64  T64        136,960
//	reference   L4  H4  d128 T64        867,072
//	small       L6  H6  d384 T256    10,942,464
//	medium      L8  H8  d512 T512    25,744,384
//	gpt2-small  L12 H12 d768 T1024   86,235,648
//
// The llama architecture at the same sizes has no position table and a
// SwiGLU MLP of about the same size: 139,584, 869,504, 10,818,432,
// 25,567,744 and 85,347,072 parameters (see Config.NumParams).
var Sizes = []Size{
	{Name: SizeTiny, Layers: 2, Heads: 2, Width: 64, Block: 64, About: "smoke tests and quick CPU runs"},
	{Name: SizeReference, Layers: 4, Heads: 4, Width: 128, Block: 64, About: "the benchmark's reference model (CPU default)"},
	{Name: SizeSmall, Layers: 6, Heads: 6, Width: 384, Block: 256, About: "GPU"},
	{Name: SizeMedium, Layers: 8, Heads: 8, Width: 512, Block: 512, About: "GPU"},
	{Name: SizeGPT2Small, Layers: 12, Heads: 12, Width: 768, Block: 1024, About: "GPT-2 small's shape, GPU"},
}

// SizeNames returns the names of Sizes, smallest first.
func SizeNames() []string {
	names := make([]string, len(Sizes))
	for i, s := range Sizes {
		names[i] = s.Name
	}
	return names
}

// ConfigForSize returns the model configuration of the named size (see
// Sizes) with the given architecture (ArchGPT or ArchLlama): DefaultConfig
// with the size's layers, heads, width and block. ConfigForSize(SizeReference,
// ArchGPT) is DefaultConfig(). An unknown name is an error that lists the
// known ones.
func ConfigForSize(name, arch string) (Config, error) {
	for _, s := range Sizes {
		if s.Name == name {
			cfg := DefaultConfig()
			cfg.Arch = arch
			cfg.Layers, cfg.Heads, cfg.Width, cfg.Block = s.Layers, s.Heads, s.Width, s.Block
			return cfg, nil
		}
	}
	return Config{}, errors.Errorf("unknown model size %q: the sizes are %s", name, strings.Join(SizeNames(), ", "))
}

// sizesHelp describes the sizes for the -size flag's help: each name with its
// shape and gpt parameter count.
func sizesHelp() string {
	parts := make([]string, len(Sizes))
	for i, s := range Sizes {
		cfg, _ := ConfigForSize(s.Name, ArchGPT)
		parts[i] = fmt.Sprintf("%s (L%d H%d d%d T%d, %s params)", s.Name, s.Layers, s.Heads, s.Width, s.Block, humanInt(cfg.NumParams()))
	}
	return strings.Join(parts, ", ")
}
