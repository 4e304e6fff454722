package optimizers

import (
	"fmt"
	"strings"

	"github.com/gomlx/compute/dtypes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/train/metric"
)

// MetricType is the GoMLX metric type of GCT's metrics.
const MetricType = "gradient bits"

// Metrics returns GoMLX training metrics that show GCT's coded bits per
// gradient element and fraction of zeros of the last step (for the progress bar
// and the training loop): pass them to train.NewTrainer's trainMetrics.
func Metrics() []metric.Interface {
	read := func(name string) metric.BaseMetricGraph {
		return func(scope *model.Scope, _, predictions []*Node) *Node {
			g := predictions[0].Graph()
			v := scope.Store().GetVariable(model.JoinPath("/", StateScope, name))
			if v == nil {
				return Scalar(g, dtypes.Float32, 0)
			}
			return v.NodeValue(g)
		}
	}
	return []metric.Interface{
		metric.NewBaseMetric("Gradient bits per element", "gbits", MetricType, read(MetricBitsPerElement), nil),
		metric.NewBaseMetric("Gradient zero fraction", "gzeros", MetricType, read(MetricZeroFraction), nil),
	}
}

// StepMetrics are GCT's metrics of the last training step, read from the store.
type StepMetrics struct {
	// BitsPerElement is the coded size of all gradients, in bits per element.
	BitsPerElement float64
	// ZeroFraction is the fraction of zeros among the quantized values (0 when
	// the compressor is not integer-coded).
	ZeroFraction float64
	// Beta is the mean GG shape fitted to the gradients (0 when not fitted).
	Beta float64
	// BitsByVariable maps each trainable variable's path to its bits per element.
	BitsByVariable map[string]float64
}

// ReadMetrics returns GCT's metrics of the last training step from store (after
// at least one step).
func ReadMetrics(store *model.Store) (StepMetrics, error) {
	m := StepMetrics{BitsByVariable: make(map[string]float64)}
	prefix := model.JoinPath("/", StateScope) + "/"
	found := false
	for v := range store.IterVariables() {
		path := v.Path()
		if !strings.HasPrefix(path, prefix) || !v.HasValue() || v.Shape().Rank() != 0 || v.DType() != dtypes.Float32 {
			continue
		}
		value := tensors.ToScalar[float32](v.MustValue())
		rest := strings.TrimPrefix(path, prefix)
		switch {
		case rest == MetricBitsPerElement:
			m.BitsPerElement = float64(value)
			found = true
		case rest == MetricZeroFraction:
			m.ZeroFraction = float64(value)
		case rest == MetricBeta:
			m.Beta = float64(value)
		}
	}
	for v := range store.IterVariables() {
		if !v.Trainable {
			continue
		}
		perVar := store.GetVariable(prefix + model.EscapeScopeName(v.Path()) + "/" + MetricBitsPerElement)
		if perVar != nil && perVar.HasValue() {
			m.BitsByVariable[v.Path()] = float64(tensors.ToScalar[float32](perVar.MustValue()))
		}
	}
	if !found {
		return m, fmt.Errorf("optimizers.ReadMetrics: no GCT metrics in the store (has a GCT training step run?)")
	}
	return m, nil
}
