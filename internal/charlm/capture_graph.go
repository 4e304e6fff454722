package charlm

import (
	"github.com/ggprior/ggprior/internal/storevars"
	"github.com/ggprior/ggprior/internal/tensorkind"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
)

// graph builds the capture graph: the mean cross-entropy of the batch, then
// the activations (every site the model passes to its ActivationFn, after the
// model's own ActivationFn if any, in the order the model visits them) and the
// gradients (of every trainable variable the model uses) that the Capturer
// wants, recording their kinds and names in c.outputs.
func (c *Capturer) graph(scope *model.Scope, tokens, targets *Node) []*Node {
	g := tokens.Graph()
	scope.Store().SetTraining(g, false)
	m := *c.exp.Model // A copy, to record the activation sites of this graph only.
	var sites []*Node
	var names []string
	inner := m.Activation
	m.Activation = func(s *model.Scope, site string, x *Node) *Node {
		if inner != nil {
			x = inner(s, site, x)
		}
		sites = append(sites, x)
		names = append(names, model.JoinPath(s.Scope(), site))
		return x
	}
	loss := ReduceAllMean(crossEntropy(m.Logits(scope, tokens), targets))

	c.outputs = nil
	outputs := []*Node{loss}
	if c.wants(tensorkind.Activations) {
		for i, x := range sites {
			c.outputs = append(c.outputs, capturedOutput{tensorkind.Activations, names[i]})
			outputs = append(outputs, x)
		}
	}
	if c.wants(tensorkind.Gradients) {
		vars := storevars.Trainable(scope, g)
		nodes := make([]*Node, len(vars))
		for i, v := range vars {
			nodes[i] = v.NodeValue(g)
			c.outputs = append(c.outputs, capturedOutput{tensorkind.Gradients, v.Path()})
		}
		outputs = append(outputs, Gradient(loss, nodes...)...)
	}
	return outputs
}
