package charlm

import (
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/model/initializer"
	. "github.com/gomlx/gomlx/support/exceptions"
)

// DType of every parameter and activation of the model.
var DType = dtypes.Float32

// Activation sites passed to Model.Activation. Each is the input of a dense
// layer (its "consumer", see Config.ConsumerMACs), so zeros there are
// multiply-adds that layer could skip.
const (
	// SiteMLPHidden is the MLP hidden activation: after GELU (gpt), or the
	// SwiGLU product silu(gate)*up (llama); shape [batch, seq, hidden]. It
	// feeds the MLP output projection. Scope: the block's "mlp".
	SiteMLPHidden = "mlp_hidden"

	// SiteAttnIn is the input of a block's attention, after its LayerNorm
	// (gpt) or RMSNorm (llama); shape [batch, seq, width]. It feeds the fused
	// QKV projection. Scope: the block's "attn".
	SiteAttnIn = "attn_in"

	// siteMLPIn is the input of a block's MLP, after its normalization; shape
	// [batch, seq, width]. It feeds the MLP input projection (gpt) or the
	// fused gate and up projections (llama). Scope: the block's "mlp".
	siteMLPIn = "mlp_in"
)

// ActivationSites lists the activation sites, in the order a block visits them.
var ActivationSites = []string{SiteAttnIn, siteMLPIn, SiteMLPHidden}

// ConsumerMACs returns the multiply-adds per token of the dense layer that
// consumes the activation at site (one of ActivationSites): Width*3*Width for
// SiteAttnIn (QKV), Width*Hidden for siteMLPIn (gpt; Width*2*Hidden for
// llama's gate and up), Hidden*Width for SiteMLPHidden. A zero at the site
// skips one row of the consumer's kernel for that token, so a site's
// sparsity is the fraction of its consumer's multiply-adds that can be skipped.
// It returns 0 for an unknown site.
func (c Config) ConsumerMACs(site string) int {
	d, h := c.Width, c.Hidden()
	switch site {
	case SiteAttnIn:
		return d * 3 * d
	case siteMLPIn:
		if c.Arch == ArchLlama {
			return d * 2 * h
		}
		return d * h
	case SiteMLPHidden:
		return h * d
	}
	return 0
}

// ActivationWidth returns the size of the last axis of the activation at site
// (one of ActivationSites): Width for SiteAttnIn and siteMLPIn, Hidden for
// SiteMLPHidden; 0 for an unknown site.
func (c Config) ActivationWidth(site string) int {
	switch site {
	case SiteAttnIn, siteMLPIn:
		return c.Width
	case SiteMLPHidden:
		return c.Hidden()
	}
	return 0
}

// ActivationFn transforms an activation of the model at the given site (one of
// ActivationSites), in the scope of the sub-layer it belongs to (the block's
// "attn" or "mlp"). It is how activation-level methods (sparsification, rate
// constraints, statistics) plug into the model without changing it.
type ActivationFn func(scope *model.Scope, site string, x *Node) *Node

// chainActivations returns an ActivationFn that applies fns in order (nil
// entries are skipped), so that several methods can share Model.Activation.
func chainActivations(fns ...ActivationFn) ActivationFn {
	var chain []ActivationFn
	for _, fn := range fns {
		if fn != nil {
			chain = append(chain, fn)
		}
	}
	return func(scope *model.Scope, site string, x *Node) *Node {
		for _, fn := range chain {
			x = fn(scope, site, x)
		}
		return x
	}
}

// Model builds the computation graph of a charlm transformer. It holds no
// variables itself: they live in the model.Store of the scope it is given, under
// fixed paths ("/token_embed/embeddings", "/block_000/attn/qkv/weights", ...).
type Model struct {
	// Config is the architecture.
	Config Config

	// Init chooses the initializer of each weight matrix. nil means initNormal02.
	Init InitFn

	// Activation, if not nil, is applied at each activation site (see
	// ActivationSites) and its result used in place of the activation.
	Activation ActivationFn
}

// newModel returns a Model of the given architecture with the baseline
// initialization. It panics if the config is invalid (see Config.Validate).
func newModel(cfg Config) *Model {
	if err := cfg.Validate(); err != nil {
		panic(err)
	}
	return &Model{Config: cfg, Init: initNormal02()}
}

// Logits builds the model: tokens is an integer tensor [batch, seq] with seq <=
// Config.Block, and the result is the next-byte logits, [batch, seq, vocab].
//
// It has the signature of a train.Trainer model function.
func (m *Model) Logits(scope *model.Scope, tokens *Node) *Node {
	if tokens.Rank() != 2 || !tokens.DType().IsInt() {
		Panicf("charlm: tokens must be an integer tensor [batch, seq], got %s", tokens.Shape())
	}
	if seq := tokens.Shape().Dim(1); seq > m.Config.Block {
		Panicf("charlm: sequence length %d is longer than the block size %d", seq, m.Config.Block)
	}
	switch m.Config.Arch {
	case ArchLlama:
		return m.llama(scope, tokens)
	case ArchGPT:
		return m.gpt(scope, tokens)
	default:
		Panicf("charlm: unknown architecture %q", m.Config.Arch)
		return nil
	}
}

// weight returns the value of the rank-2 weight variable `name` in scope, of the
// given kind, creating it with the initializer the model's InitFn returns for
// (kind, baselineStd(kind)).
func (m *Model) weight(scope *model.Scope, g *Graph, name, kind string, dims ...int) *Node {
	initFn := m.Init
	if initFn == nil {
		initFn = initNormal02()
	}
	init := initFn(scope, kind, baselineStd(kind, m.Config.Layers))
	if init == nil {
		Panicf("charlm: the InitFn returned a nil initializer for kind %q", kind)
	}
	return scope.WithInitializer(init).VariableWithShape(name, shapes.Make(DType, dims...)).NodeValue(g)
}

// bias returns the value of a rank-1 variable initialized with zeros.
func bias(scope *model.Scope, g *Graph, name string, dim int) *Node {
	return scope.WithInitializer(initializer.Zero).VariableWithShape(name, shapes.Make(DType, dim)).NodeValue(g)
}

// gain returns the value of a rank-1 variable initialized with ones.
func gain(scope *model.Scope, g *Graph, name string, dim int) *Node {
	return scope.WithInitializer(initializer.One).VariableWithShape(name, shapes.Make(DType, dim)).NodeValue(g)
}

// activation applies m.Activation, if set.
func (m *Model) activation(scope *model.Scope, site string, x *Node) *Node {
	if m.Activation == nil {
		return x
	}
	return m.Activation(scope, site, x)
}

// embed looks up the rows of table for the given token ids: [batch, seq] -> [batch, seq, width].
func embed(table, tokens *Node) *Node {
	return Gather(table, InsertAxes(tokens, -1))
}
