package dataparallel

import (
	"fmt"

	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/train"
)

// toModelFn converts the model-function signatures that return predictions
// into a train.ModelFn (as train.NewTrainer does; its converter is not
// exported).
func toModelFn[M train.ModelFnCompatible](fn M) (train.ModelFn, error) {
	switch f := any(fn).(type) {
	case train.ModelFn:
		return f, nil
	case func(*model.Scope, any, []*Node) []*Node:
		return f, nil
	case func(*model.Scope, *Node) *Node:
		return func(scope *model.Scope, _ any, inputs []*Node) []*Node { return []*Node{f(scope, inputs[0])} }, nil
	case func(*model.Scope, *Node, *Node) *Node:
		return func(scope *model.Scope, _ any, inputs []*Node) []*Node {
			return []*Node{f(scope, inputs[0], inputs[1])}
		}, nil
	case func(*model.Scope, []*Node) *Node:
		return func(scope *model.Scope, _ any, inputs []*Node) []*Node { return []*Node{f(scope, inputs)} }, nil
	case func(*model.Scope, []*Node) []*Node:
		return func(scope *model.Scope, _ any, inputs []*Node) []*Node { return f(scope, inputs) }, nil
	case func(*model.Scope, any, *Node) *Node:
		return func(scope *model.Scope, spec any, inputs []*Node) []*Node { return []*Node{f(scope, spec, inputs[0])} }, nil
	case func(*model.Scope, any, []*Node) *Node:
		return func(scope *model.Scope, spec any, inputs []*Node) []*Node { return []*Node{f(scope, spec, inputs)} }, nil
	}
	return nil, fmt.Errorf("dataparallel: model function of type %T is not supported: use a train.ModelFn, "+
		"or func(*model.Scope, *graph.Node) *graph.Node, or func(*model.Scope, []*graph.Node) []*graph.Node", fn)
}
