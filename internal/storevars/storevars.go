// Package storevars holds the helpers for a model.Store's variables that
// ggprior's layers, optimizers and experiment machinery share: the
// non-trainable variables that keep a layer's or an optimizer's state and
// metrics, and the trainable variables a graph uses.
package storevars

import (
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph" //nolint:revive // GoMLX's graph DSL.
	"github.com/gomlx/gomlx/ml/model"
)

// State returns the variable name of scope with the given shape, made
// non-trainable: state that checkpoints keep but gradients never reach. A
// new variable gets the scope's initializer.
func State(scope *model.Scope, name string, shape shapes.Shape) *model.Variable {
	v := scope.VariableWithShape(name, shape)
	v.SetTrainable(false)
	return v
}

// SetMetric stores value, converted to Float32, in the non-trainable Float32
// scalar variable name of scope (see State): the metric's value of this step.
func SetMetric(scope *model.Scope, name string, value *Node) {
	State(scope, name, shapes.Make(dtypes.Float32)).SetNodeValue(ConvertDType(value, dtypes.Float32))
}

// Trainable returns the trainable variables of scope used in graph g, in the
// order of scope.BuildTrainableVariablesGradientsGraph: its i-th gradient is
// for the i-th variable.
func Trainable(scope *model.Scope, g *Graph) []*model.Variable {
	var vars []*model.Variable
	for v := range scope.IterVariables() {
		if v.Trainable && v.InUseByGraph(g) {
			vars = append(vars, v)
		}
	}
	return vars
}
