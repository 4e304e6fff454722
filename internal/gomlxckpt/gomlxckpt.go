// Package gomlxckpt reads the variables of a checkpoint saved by GoMLX's
// checkpoint package (ml/model/checkpoint) for analysis: it loads the latest
// checkpoint of a directory into a fresh model.Store with the package's own
// loader, lists the variables, tells model weights from optimizer state, and
// returns values as float64.
//
// A checkpoint does not record which variables are trainable (every variable
// loaded back into a Store is marked trainable), so IsOptimizerState guesses it
// from GoMLX's naming conventions: optimizer state lives under the scopes
// "/optimizers" or "/<Name>Optimizer" (e.g. Adam's "/AdamOptimizer"), moments
// are named "<var>_1st_moment" and "<var>_2nd_moment", counters "global_step"
// and "step", and the random number generator state "#rngState". The training
// state of ggprior's methods is not weights either: GCT's variables under
// "/gct" (error-feedback residuals, secant memory, metrics; see
// optimizers.StateScope) and those of every ACT site's "act" scope
// (thresholds, counters, metrics; see layers.ACT).
//
// Before GoMLX loads it, the checkpoint is checked (ckptcheck.Check): its
// files against their SHA-256 sums, if it has a manifest (the charlm
// experiment writes one), and its variables' shapes against the bytes of its
// data; a checkpoint that fails is an error naming the file.
package gomlxckpt

import (
	"fmt"
	"os"
	"regexp"
	"sort"

	"github.com/ggprior/ggprior/internal/ckptcheck"
	"github.com/ggprior/ggprior/optimizers"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/dtypes/bfloat16"
	"github.com/gomlx/compute/dtypes/float16"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/model/checkpoint"
)

// Variable describes one variable of a checkpoint.
type Variable struct {
	// Path is the variable's full path in the Store, e.g. "/block_000/attn/qkv/weights".
	Path string
	// DType is the variable's data type.
	DType dtypes.DType
	// Shape holds the dimensions (empty for a scalar).
	Shape []int
	// Size is the number of elements.
	Size int
	// OptimizerState is true for variables that IsOptimizerState recognizes as
	// optimizer state, counters or random-generator state rather than weights.
	OptimizerState bool
}

// IsWeight reports whether v looks like a model weight: a float variable that is
// not optimizer state.
func (v Variable) IsWeight() bool { return v.DType.IsFloat() && !v.OptimizerState }

// Checkpoint holds the variables of a loaded checkpoint.
type Checkpoint struct {
	// Dir is the checkpoint directory.
	Dir string
	// Variables lists every variable, sorted by path.
	Variables []Variable
	// Checksummed is true when the checkpoint's files matched the SHA-256
	// sums of its manifest; false for one without a manifest (GoMLX's
	// checkpoint package writes none), whose files were only checked
	// against each other (see ckptcheck.Checked).
	Checksummed bool

	store *model.Store
}

// optimizerStatePath matches the paths of variables that are not weights; see
// the package documentation.
var optimizerStatePath = regexp.MustCompile(`^/(optimizers|\w*Optimizer|` + regexp.QuoteMeta(optimizers.StateScope) +
	`)(/|$)|_(1st|2nd)_moment$|(^|/)(global_step|step)$|(^|/)#|/act/[^/]+$`)

// isOptimizerState reports whether the variable at path looks like optimizer
// state, a counter or random-generator state rather than a model weight (see the
// package documentation for the conventions recognized).
func isOptimizerState(path string) bool { return optimizerStatePath.MatchString(path) }

// Open loads the latest checkpoint in dir (the directory given to GoMLX's
// checkpoint.Build(...).Dir) into a new model.Store, with every variable loaded
// immediately. It returns an error, never a panic, for a missing directory, a
// directory without checkpoints, and unreadable or corrupt checkpoint files:
// the checkpoint is checked (ckptcheck.Check) before anything is allocated.
func Open(dir string) (c *Checkpoint, err error) {
	info, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("gomlxckpt: checkpoint directory: %w", err)
	}
	if !info.IsDir() {
		return nil, fmt.Errorf("gomlxckpt: %s is not a directory: give the checkpoint directory", dir)
	}
	defer func() {
		// GoMLX reports some problems of corrupt files (e.g. shapes) by panicking.
		if p := recover(); p != nil {
			c, err = nil, fmt.Errorf("gomlxckpt: loading checkpoint from %s: %v", dir, p)
		}
	}()
	names, err := ckptcheck.List(dir)
	if err != nil {
		return nil, fmt.Errorf("gomlxckpt: %w", err)
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("gomlxckpt: no checkpoints found in %s", dir)
	}
	// GoMLX loads the latest.
	checked, err := ckptcheck.Check(dir, names[len(names)-1])
	if err != nil {
		return nil, fmt.Errorf("gomlxckpt: loading checkpoint from %s: %w", dir, err)
	}
	store := model.NewStore()
	if _, err := checkpoint.Load(store).Dir(dir).Immediate().Done(); err != nil {
		return nil, fmt.Errorf("gomlxckpt: loading checkpoint from %s: %w", dir, err)
	}
	c = &Checkpoint{Dir: dir, Checksummed: checked.Checksummed, store: store}
	for v := range store.IterVariables() {
		shape := v.Shape()
		c.Variables = append(c.Variables, Variable{
			Path:           v.Path(),
			DType:          shape.DType,
			Shape:          append([]int{}, shape.Dimensions...),
			Size:           shape.Size(),
			OptimizerState: isOptimizerState(v.Path()),
		})
	}
	sort.Slice(c.Variables, func(i, j int) bool { return c.Variables[i].Path < c.Variables[j].Path })
	return c, nil
}

// Store returns the model.Store holding the loaded variables.
func (c *Checkpoint) Store() *model.Store { return c.store }

// Weights returns the variables that look like model weights (float and not
// optimizer state; see Variable.IsWeight), sorted by path.
func (c *Checkpoint) Weights() []Variable {
	var out []Variable
	for _, v := range c.Variables {
		if v.IsWeight() {
			out = append(out, v)
		}
	}
	return out
}

// Values returns the elements of the float variable at path, in row-major order,
// as float64 (a copy).
func (c *Checkpoint) Values(path string) ([]float64, error) {
	v := c.store.GetVariable(path)
	if v == nil {
		return nil, fmt.Errorf("gomlxckpt: no variable %q in checkpoint %s", path, c.Dir)
	}
	t, err := v.Value()
	if err != nil {
		return nil, fmt.Errorf("gomlxckpt: variable %q: %w", path, err)
	}
	var out []float64
	var convErr error
	err = t.ConstFlatData(func(flat any) {
		switch xs := flat.(type) {
		case []float64:
			out = append([]float64(nil), xs...)
		case []float32:
			out = convert(xs, func(x float32) float64 { return float64(x) })
		case []float16.Float16:
			out = convert(xs, float16.Float16.Float64)
		case []bfloat16.BFloat16:
			out = convert(xs, bfloat16.BFloat16.Float64)
		default:
			convErr = fmt.Errorf("gomlxckpt: variable %q has dtype %s: not a float variable", path, t.DType())
		}
	})
	if err != nil {
		return nil, fmt.Errorf("gomlxckpt: variable %q: %w", path, err)
	}
	return out, convErr
}

// convert maps xs to float64 with f.
func convert[T any](xs []T, f func(T) float64) []float64 {
	out := make([]float64, len(xs))
	for i, x := range xs {
		out[i] = f(x)
	}
	return out
}
