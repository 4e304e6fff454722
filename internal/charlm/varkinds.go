package charlm

import "regexp"

// variableKinds maps the paths of the weight matrices the model creates (with
// the model at the root scope, as the Experiment builds it) to their kind: the
// scope names of gpt.go and llama.go. Optimizer state (e.g. "/AdamW/...") and
// the rank-1 parameters (biases, gains) match none.
var variableKinds = []struct {
	re   *regexp.Regexp
	kind string
}{
	{regexp.MustCompile(`^/token_embed/embeddings$`), KindEmbed},
	{regexp.MustCompile(`^/pos_embed/embeddings$`), KindPos},
	{regexp.MustCompile(`^/block_\d+/attn/qkv/weights$`), KindAttnQKV},
	{regexp.MustCompile(`^/block_\d+/attn/out/weights$`), KindAttnOut},
	{regexp.MustCompile(`^/block_\d+/mlp/gate/weights$`), kindMLPGate},
	{regexp.MustCompile(`^/block_\d+/mlp/(in|up)/weights$`), KindMLPIn},
	{regexp.MustCompile(`^/block_\d+/mlp/(out|down)/weights$`), KindMLPOut},
	{regexp.MustCompile(`^/head/weights$`), KindHead},
}

// KindOfVariable returns the kind (one of Kinds) of the weight matrix at the
// given variable path of a charlm model, as the Experiment creates it (model at
// the root scope): "/block_002/attn/qkv/weights" is KindAttnQKV, "/head/weights"
// KindHead. ok is false for anything else: biases, normalization gains and
// offsets, optimizer state, counters.
//
// It is how tools that read a checkpoint (e.g. fitting the GG shape per kind
// for -init gg) find the kind that the model gave each weight's InitFn.
func KindOfVariable(path string) (kind string, ok bool) {
	for _, vk := range variableKinds {
		if vk.re.MatchString(path) {
			return vk.kind, true
		}
	}
	return "", false
}
