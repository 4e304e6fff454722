package ggx_test

import (
	"fmt"
	"math"

	"github.com/ggprior/ggprior/ggx"
	"github.com/gomlx/compute/gobackend"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/layers"
	"github.com/gomlx/gomlx/ml/layers/activation"
	"github.com/gomlx/gomlx/ml/model"
)

// A GoMLX model whose weights start from a GG of shape 1.4 at He's variance
// (2/fan_in), with zero biases.
func Example() {
	modelFn := func(scope *model.Scope, x *Node) *Node {
		scope = scope.WithInitializer(ggx.Init(scope).Beta(1.4).Done())
		x = activation.Relu(layers.Dense(scope.In("hidden"), x, true, 256))
		return layers.Dense(scope.In("logits"), x, true, 10)
	}
	store := model.NewStore()
	store.SetParam(model.ParamInitialSeed, int64(42))
	exec := model.MustNewExec1(gobackend.GetBackend(), store, modelFn)
	input := make([][]float32, 8) // 8 examples of 8 features.
	for i := range input {
		input[i] = make([]float32, 8)
	}
	logits := exec.MustCall(input)
	fmt.Println("logits:", logits.Shape())

	// The hidden kernel is [8, 256]: variance 2/8, shape 1.4.
	kernel := tensors.MustCopyFlatData[float32](store.GetVariable("/hidden/dense/weights").MustValue())
	xs := make([]float64, len(kernel))
	for i, x := range kernel {
		xs[i] = float64(x)
	}
	fit, _ := ggx.FitMLE(xs)
	fmt.Printf("std close to sqrt(2/8): %v\n", math.Abs(fit.StdDev()-0.5) < 0.05)
	// Output:
	// logits: (Float32)[8, 10]
	// std close to sqrt(2/8): true
}
