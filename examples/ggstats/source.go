package main

import (
	"fmt"

	"github.com/ggprior/ggprior/internal/distfit"
	"github.com/ggprior/ggprior/internal/gomlxckpt"
	"github.com/ggprior/ggprior/internal/safetensors"
	"github.com/ggprior/ggprior/internal/tensorkind"
)

// item is one tensor to analyze, from whatever source.
type item struct {
	kind, name string
	shape      []int
	size       int
	// skip, if not empty, is why the tensor cannot be analyzed (e.g. not float).
	skip string
	// fetch returns the values at the given sorted indices (all values for nil
	// indices). For a source that already holds a sample (a live capture),
	// sampled is true and fetch returns that sample whatever the indices.
	fetch   func(indices []int) ([]float64, error)
	sampled bool
}

// safetensorsItems opens a safetensors file and returns its tensors as items, in
// file order, with a function to close the file.
func safetensorsItems(path string) ([]item, func() error, error) {
	f, err := safetensors.Open(path)
	if err != nil {
		return nil, nil, err
	}
	items := make([]item, 0, len(f.Tensors))
	for _, t := range f.Tensors {
		name := t.Name
		items = append(items, item{
			kind: tensorkind.Weights, name: name, shape: t.Shape, size: t.Size(), skip: t.Note,
			fetch: func(indices []int) ([]float64, error) {
				if indices == nil {
					return f.Values(name)
				}
				return f.ValuesAt(name, indices)
			},
		})
	}
	return items, f.Close, nil
}

// checkpointItems loads the latest GoMLX checkpoint in dir and returns its
// variables as items, sorted by path. Optimizer state is marked skipped unless
// allVars.
func checkpointItems(dir string, allVars bool) ([]item, error) {
	c, err := gomlxckpt.Open(dir)
	if err != nil {
		return nil, err
	}
	items := make([]item, 0, len(c.Variables))
	for _, v := range c.Variables {
		it := item{kind: tensorkind.Weights, name: v.Path, shape: v.Shape, size: v.Size}
		switch {
		case !v.DType.IsFloat():
			it.skip = fmt.Sprintf("dtype %s is not a floating-point type", v.DType)
		case v.OptimizerState && !allVars:
			it.skip = "optimizer state (-all-vars to include)"
		}
		path := v.Path
		it.fetch = func(indices []int) ([]float64, error) {
			values, err := c.Values(path)
			if err != nil {
				return nil, err
			}
			return distfit.Gather(values, indices), nil
		}
		items = append(items, it)
	}
	return items, nil
}
