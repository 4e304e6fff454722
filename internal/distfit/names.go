package distfit

import (
	"regexp"
	"strings"
)

// Layer kinds returned by LayerKind.
const (
	LayerEmbedding = "embedding"
	LayerAttention = "attention"
	LayerMLP       = "mlp"
	layerNorm      = "norm"
	LayerHead      = "head"
	layerOther     = "other"
)

// LayerKinds lists the layer kinds, in the order summaries use.
var LayerKinds = []string{LayerEmbedding, LayerAttention, LayerMLP, layerNorm, LayerHead, layerOther}

// layerPatterns are tried in order on each token of a tensor name (lower-cased
// and split at any character that is not a letter or digit). Norms come first
// since they sit inside attention and MLP blocks in some models
// ("attention.output.LayerNorm"), and the head last since "head" alone is
// ambiguous.
var layerPatterns = []struct {
	kind string
	re   *regexp.Regexp
}{
	{layerNorm, regexp.MustCompile(`^(ln\d*|ln[a-z]|\w*norm\d*)$`)},
	{LayerEmbedding, regexp.MustCompile(`^(wte|wpe|embed\w*|\w*embeddings?)$`)},
	{LayerAttention, regexp.MustCompile(`^(attn\d*|\w*attention|qkv|query|key|value|wq|wk|wv|wo)$`)},
	{LayerMLP, regexp.MustCompile(`^(mlp\d*|ffn\d*|ff|fc\d*|feedforward|intermediate|gate|up|down|w[123]|experts?)$`)},
	{LayerHead, regexp.MustCompile(`^(head|classifier|logits|unembed\w*)$`)},
}

// tokenSplitter splits a tensor name into tokens.
var tokenSplitter = regexp.MustCompile(`[^a-z0-9]+`)

// layerKind guesses the kind of layer a tensor belongs to from its name, for the
// naming conventions of Hugging Face models (GPT-2 "h.0.attn.c_attn.weight",
// Llama "model.layers.0.mlp.gate_proj.weight", BERT
// "encoder.layer.0.attention.self.query.weight") and GoMLX scopes
// ("/block_000/attn/qkv/weights"). It returns one of LayerEmbedding,
// LayerAttention, LayerMLP, LayerNorm, LayerHead or LayerOther.
//
// The name is lower-cased and split into tokens at every character that is not a
// letter or a digit; each layer kind's pattern is tried on every token, kinds in
// the order norm, embedding, attention, MLP, head, so "attention.output.LayerNorm"
// is a norm and "lm_head" a head.
func layerKind(name string) string {
	tokens := tokenSplitter.Split(strings.ToLower(name), -1)
	for _, p := range layerPatterns {
		for _, tok := range tokens {
			if tok != "" && p.re.MatchString(tok) {
				return p.kind
			}
		}
	}
	return layerOther
}
