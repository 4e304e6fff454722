// Package fitbetas fits the shape (beta) of a generalized Gaussian to the
// weight matrices of a trained charlm model, per layer kind, and formats the
// result as charlm's -beta specification: the "fitted from a trained
// checkpoint" choice of the GG initialization ("it takes a good model to train
// a good model"), -beta fit:DIR.
//
// Each weight matrix of the latest checkpoint in DIR is fitted by maximum
// likelihood (ggx.FitMLE, on all its values); a kind's shape is the median of
// the shapes of its matrices (one per layer), so that the differences of scale
// between layers do not bias it, as pooling their values would (a mixture of
// scales has heavier tails than each layer).
//
//	spec, err := fitbetas.Spec("/path/to/baseline/checkpoints")
//	// spec == "embed=1.12,pos=1.37,attn_qkv=1.31,..."
//	tc.Init, tc.Beta = charlm.InitNameGG, spec
package fitbetas

import (
	"fmt"
	"github.com/ggprior/ggprior/internal/stats"
	"math"
	"slices"
	"strings"

	"github.com/ggprior/ggprior/ggx"
	"github.com/ggprior/ggprior/internal/charlm"
	"github.com/ggprior/ggprior/internal/gomlxckpt"
)

// TensorFit is the maximum-likelihood fit of one weight matrix.
type TensorFit struct {
	// Path is the variable's path, e.g. "/block_000/attn/qkv/weights".
	Path string `json:"path"`
	// Kind is its charlm layer kind (charlm.KindOfVariable).
	Kind string `json:"kind"`
	// Size is its number of elements, all fitted.
	Size int `json:"size"`
	// Beta and Alpha are the fitted shape and scale; Mu the fitted location.
	Beta  float64 `json:"beta"`
	Alpha float64 `json:"alpha"`
	Mu    float64 `json:"mu"`
}

// KindFit is the fitted shape of one layer kind.
type KindFit struct {
	// Kind is one of charlm.Kinds.
	Kind string `json:"kind"`
	// Beta is the median of the fitted shapes of the kind's matrices.
	Beta float64 `json:"beta"`
	// MinBeta and MaxBeta give their range; Tensors their number.
	MinBeta float64 `json:"min_beta"`
	MaxBeta float64 `json:"max_beta"`
	Tensors int     `json:"tensors"`
}

// Result holds the fits of a checkpoint.
type Result struct {
	// Checkpoint is the checkpoint directory.
	Checkpoint string `json:"checkpoint"`
	// Tensors holds the fit of every weight matrix with a layer kind, by path.
	Tensors []TensorFit `json:"tensors"`
	// Kinds holds the shape of every kind present, in the order of charlm.Kinds.
	Kinds []KindFit `json:"kinds"`
}

// FromCheckpoint reads the latest checkpoint in dir (a charlm checkpoint
// directory, or any GoMLX checkpoint whose variables follow charlm's paths)
// and fits every weight matrix that has a charlm layer kind. It returns an
// error for an unreadable checkpoint, for a checkpoint without any charlm
// weight matrix, and for a matrix that cannot be fitted (e.g. constant).
func FromCheckpoint(dir string) (*Result, error) {
	c, err := gomlxckpt.Open(dir)
	if err != nil {
		return nil, fmt.Errorf("fitbetas: %w", err)
	}
	r := &Result{Checkpoint: dir}
	byKind := map[string][]float64{}
	for _, v := range c.Weights() {
		kind, ok := charlm.KindOfVariable(v.Path)
		if !ok {
			continue
		}
		values, err := c.Values(v.Path)
		if err != nil {
			return nil, fmt.Errorf("fitbetas: %w", err)
		}
		d, err := ggx.FitMLE(values)
		if err != nil {
			return nil, fmt.Errorf("fitbetas: checkpoint %s: variable %q: %w", dir, v.Path, err)
		}
		r.Tensors = append(r.Tensors, TensorFit{Path: v.Path, Kind: kind, Size: len(values), Beta: d.Beta, Alpha: d.Alpha, Mu: d.Mu})
		byKind[kind] = append(byKind[kind], d.Beta)
	}
	if len(r.Tensors) == 0 {
		return nil, fmt.Errorf("fitbetas: checkpoint %s holds no charlm weight matrix (paths like /block_000/attn/qkv/weights)", dir)
	}
	for _, kind := range charlm.Kinds {
		betas := byKind[kind]
		if len(betas) == 0 {
			continue
		}
		r.Kinds = append(r.Kinds, KindFit{Kind: kind, Beta: stats.Median(betas), MinBeta: slices.Min(betas), MaxBeta: slices.Max(betas), Tensors: len(betas)})
	}
	return r, nil
}

// round2 rounds to 2 decimals: the precision of a fitted shape (its standard
// error is about 1% for a matrix of 16k values).
func round2(x float64) float64 { return math.Round(x*100) / 100 }

// Betas returns the shapes per kind, rounded to 2 decimals, as charlm.Betas
// (kinds not fitted get charlm's default, 2).
func (r *Result) Betas() charlm.Betas {
	b := charlm.Betas{PerKind: map[string]float64{}}
	for _, k := range r.Kinds {
		b.PerKind[k.Kind] = round2(k.Beta)
	}
	return b
}

// spec returns the shapes per kind as charlm's -beta specification, in the
// order of charlm.Kinds, with 2 decimals: "embed=1.12,pos=1.37,attn_qkv=1.31,...".
func (r *Result) Spec() string {
	parts := make([]string, len(r.Kinds))
	for i, k := range r.Kinds {
		parts[i] = fmt.Sprintf("%s=%.2f", k.Kind, round2(k.Beta))
	}
	return strings.Join(parts, ",")
}

// spec fits the latest checkpoint in dir (see FromCheckpoint) and returns its
// -beta specification (see Result.Spec).
func Spec(dir string) (string, error) {
	r, err := FromCheckpoint(dir)
	if err != nil {
		return "", err
	}
	return r.Spec(), nil
}

// Resolve returns a -beta value ready for charlm.ParseBetas: spec itself,
// unless it is "fit:DIR" (charlm.BetaFitPrefix), which it replaces with the
// specification fitted from DIR (see Spec).
func Resolve(spec string) (string, error) {
	dir, ok := strings.CutPrefix(strings.TrimSpace(spec), charlm.BetaFitPrefix)
	if !ok {
		return spec, nil
	}
	if dir == "" {
		return "", fmt.Errorf("-beta %q: missing checkpoint directory after %q", spec, charlm.BetaFitPrefix)
	}
	fitted, err := Spec(dir)
	if err != nil {
		return "", fmt.Errorf("-beta %q: %w", spec, err)
	}
	return fitted, nil
}

// String returns the fits as a text table, one line per kind: the number of
// matrices, the kind's shape (median), their range and each matrix's shape.
func (r *Result) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-9s %7s %6s  %-13s  %s\n", "kind", "tensors", "beta", "(min-max)", "per tensor (MLE)")
	for _, k := range r.Kinds {
		var per []string
		for _, t := range r.Tensors {
			if t.Kind == k.Kind {
				per = append(per, fmt.Sprintf("%s %.3f", t.Path, t.Beta))
			}
		}
		fmt.Fprintf(&b, "%-9s %7d %6.3f  (%.3f-%.3f)  %s\n", k.Kind, k.Tensors, k.Beta, k.MinBeta, k.MaxBeta, strings.Join(per, ", "))
	}
	return b.String()
}
