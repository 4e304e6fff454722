package codedsize

import (
	"fmt"
	"io"
	"math"
	"sort"
	"strings"

	"github.com/ggprior/ggprior/internal/gomlxckpt"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/dtypes/bfloat16"
	"github.com/gomlx/compute/dtypes/float16"
	"github.com/gomlx/gomlx/ml/model"
)

// TensorReport is the coded size of one named weight tensor.
type TensorReport struct {
	// Name is the tensor's name: its variable path for a Store or a checkpoint.
	Name string `json:"name"`
	// Shape is the tensor's shape (nil when unknown, e.g. from FromTensors).
	Shape []int `json:"shape,omitempty"`
	Result
}

// Report is the coded size of a model's weights, per tensor and in total.
type Report struct {
	// Source says where the weights come from (e.g. "GoMLX checkpoint DIR").
	Source string `json:"source,omitempty"`
	// Tensors holds each weight tensor's coded size, sorted by name.
	Tensors []TensorReport `json:"tensors"`
	// Params is the total number of weights.
	Params int `json:"params"`
	// FP32Bytes and Int8Bytes are the raw sizes, 4 and 1 byte per weight.
	FP32Bytes int64 `json:"fp32_bytes"`
	Int8Bytes int64 `json:"int8_bytes"`
	// CodedBytes is the coded size: the sum of each tensor's Result.Bytes
	// (header and bitstream, padded to a whole byte per tensor).
	CodedBytes int64 `json:"coded_bytes"`
	// BitsPerWeight is 8*CodedBytes / Params.
	BitsPerWeight float64 `json:"bits_per_weight"`
	// RatioVsFP32 is FP32Bytes / CodedBytes: how many times smaller than fp32
	// the coded weights are.
	RatioVsFP32 float64 `json:"ratio_vs_fp32"`
	// RatioVsInt8 is Int8Bytes / CodedBytes.
	RatioVsInt8 float64 `json:"ratio_vs_int8"`
}

// add codes one tensor and appends it to the report (totals are set by finish).
func (r *Report) add(name string, shape []int, values []float32) error {
	if err := checkValues(values); err != nil {
		return fmt.Errorf("codedsize: tensor %q: %w", name, err)
	}
	res, err := tensor(values)
	if err != nil {
		return err
	}
	r.Tensors = append(r.Tensors, TensorReport{Name: name, Shape: shape, Result: res})
	return nil
}

// finish sorts the tensors and sets the totals; it is an error to have none.
func (r *Report) finish() (Report, error) {
	if len(r.Tensors) == 0 {
		return Report{}, fmt.Errorf("codedsize: no weight tensors in %s", r.Source)
	}
	sort.Slice(r.Tensors, func(i, j int) bool { return r.Tensors[i].Name < r.Tensors[j].Name })
	r.Params, r.FP32Bytes, r.Int8Bytes, r.CodedBytes = 0, 0, 0, 0
	for _, t := range r.Tensors {
		r.Params += t.N
		r.FP32Bytes += t.FP32Bits / 8
		r.Int8Bytes += t.Int8Bits / 8
		r.CodedBytes += t.Bytes()
	}
	r.BitsPerWeight = 8 * float64(r.CodedBytes) / float64(r.Params)
	r.RatioVsFP32 = float64(r.FP32Bytes) / float64(r.CodedBytes)
	r.RatioVsInt8 = float64(r.Int8Bytes) / float64(r.CodedBytes)
	return *r, nil
}

// fromTensors returns the coded size of in-memory weight tensors, by name
// (shapes unknown: each tensor is coded flattened). It returns an error for no
// tensors, an empty tensor, or non-finite values.
func fromTensors(tensors map[string][]float32) (Report, error) {
	r := &Report{Source: fmt.Sprintf("%d in-memory tensors", len(tensors))}
	for name, values := range tensors {
		if err := r.add(name, nil, values); err != nil {
			return Report{}, err
		}
	}
	return r.finish()
}

// FromStore returns the coded size of the weights of a live model.Store: its
// trainable float variables with a value (optimizer state, counters, and the
// state of GCT and ACT are not trainable). It returns an error if there are
// none, or for non-finite values.
func FromStore(store *model.Store) (Report, error) {
	r := &Report{Source: "model store"}
	for v := range store.IterVariables() {
		if !v.Trainable || !v.DType().IsFloat() || !v.HasValue() {
			continue
		}
		t, err := v.Value()
		if err != nil {
			return Report{}, fmt.Errorf("codedsize: variable %q: %w", v.Path(), err)
		}
		var values []float32
		var convErr error
		err = t.ConstFlatData(func(flat any) {
			values, convErr = toFloat32(flat)
		})
		if err == nil {
			err = convErr
		}
		if err != nil {
			return Report{}, fmt.Errorf("codedsize: variable %q: %w", v.Path(), err)
		}
		if err := r.add(v.Path(), v.Shape().Dimensions, values); err != nil {
			return Report{}, err
		}
	}
	return r.finish()
}

// toFloat32 returns a copy of a flat float slice as float32.
func toFloat32(flat any) ([]float32, error) {
	switch xs := flat.(type) {
	case []float32:
		return append([]float32(nil), xs...), nil
	case []float64:
		return convert(xs, func(x float64) float32 { return float32(x) }), nil
	case []float16.Float16:
		return convert(xs, float16.Float16.Float32), nil
	case []bfloat16.BFloat16:
		return convert(xs, bfloat16.BFloat16.Float32), nil
	}
	return nil, fmt.Errorf("values of type %T are not float", flat)
}

// convert maps xs with f.
func convert[S, T any](xs []S, f func(S) T) []T {
	out := make([]T, len(xs))
	for i, x := range xs {
		out[i] = f(x)
	}
	return out
}

// Checkpoint returns the coded size of the weights (gomlxckpt.Variable.IsWeight) of the
// latest GoMLX checkpoint in dir, such as examples/charlm's -checkpoint
// directory (read with gomlxckpt). It returns an error for a missing or
// unreadable checkpoint, one without weights, or non-finite weights.
func Checkpoint(dir string) (Report, error) {
	c, err := gomlxckpt.Open(dir)
	if err != nil {
		return Report{}, err
	}
	r := &Report{Source: "GoMLX checkpoint " + dir}
	for _, v := range c.Variables {
		if !v.IsWeight() {
			continue
		}
		values, err := c.Values(v.Path)
		if err != nil {
			return Report{}, err
		}
		if v.DType == dtypes.Float64 {
			for i, x := range values {
				if math.Abs(x) > math.MaxFloat32 && !math.IsInf(x, 0) {
					return Report{}, fmt.Errorf("codedsize: tensor %q: value %d is %g, beyond float32's range", v.Path, i, x)
				}
			}
		}
		if err := r.add(v.Path, v.Shape, convert(values, func(x float64) float32 { return float32(x) })); err != nil {
			return Report{}, err
		}
	}
	return r.finish()
}

// WriteTable writes the report as a table: one row per tensor (elements, k,
// zeros, bits per weight, coded bytes) and a total row with the raw fp32 and
// int8 sizes and the ratios.
func (r Report) WriteTable(w io.Writer) error {
	width := len("total")
	for _, t := range r.Tensors {
		width = max(width, len(t.Name))
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%-*s %10s %3s %6s %9s %12s %12s\n", width, "tensor", "elements", "k", "zeros", "bits/wt", "coded bytes", "fp32 bytes")
	for _, t := range r.Tensors {
		fmt.Fprintf(&b, "%-*s %10d %3d %5.1f%% %9.3f %12d %12d\n", width, t.Name, t.N, t.K, 100*t.ZeroFraction,
			t.BitsPerWeight, t.Bytes(), t.FP32Bits/8)
	}
	fmt.Fprintf(&b, "%-*s %10d %3s %6s %9.3f %12d %12d\n", width, "total", r.Params, "", "", r.BitsPerWeight, r.CodedBytes, r.FP32Bytes)
	fmt.Fprintf(&b, "coded size (int8 per tensor + Exp-Golomb): %d bytes, %.3f bits per weight; %.1fx smaller than fp32 (%d bytes), %.2fx smaller than int8 (%d bytes)\n",
		r.CodedBytes, r.BitsPerWeight, r.RatioVsFP32, r.FP32Bytes, r.RatioVsInt8, r.Int8Bytes)
	_, err := io.WriteString(w, b.String())
	return err
}
