package optimizers

import (
	"fmt"
	"testing"
	"time"

	"github.com/ggprior/ggprior/internal/testbackend"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/train/optimizer"
	"github.com/stretchr/testify/require"
)

// charlmShapes are the trainable variables of examples/charlm's default gpt
// (4 layers, width 128, MLP 512, vocabulary 256, block 64: 867,072 values).
func charlmShapes() map[string][]int {
	s := map[string][]int{
		"token_embed": {256, 128}, "pos_embed": {64, 128}, "head": {128, 256},
		"final_gain": {128}, "final_offset": {128},
	}
	for l := range 4 {
		for name, dims := range map[string][]int{
			"ln1_gain": {128}, "ln1_offset": {128}, "ln2_gain": {128}, "ln2_offset": {128},
			"qkv_w": {128, 384}, "qkv_b": {384}, "out_w": {128, 128}, "out_b": {128},
			"mlp_in_w": {128, 512}, "mlp_in_b": {512}, "mlp_out_w": {512, 128}, "mlp_out_b": {128},
		} {
			s[fmt.Sprintf("block%d_%s", l, name)] = dims
		}
	}
	return s
}

// BenchmarkGCTStep measures the optimizer's part of a training step on
// charlm-sized variables, fed GG(0.8) gradients: AdamW alone, and GCT around
// it with Exp-Golomb codes (2 bits), the rANS coder (1 and 0.5 bits) and the
// auto coder (1 bit). The variants' steps are interleaved, so that a load that
// changes during the run affects them alike. It reports each variant's ms/step
// and its extra ms over AdamW (<name>-extra-ms): GCT's cost per step, to be
// compared with the training step's (charlm's BenchmarkTrainStep).
//
//	GOEXPERIMENT=simd go test ./optimizers -run XXX -bench GCTStep -benchtime 10x
func BenchmarkGCTStep(b *testing.B) {
	adamW := func() optimizer.Interface { return optimizer.Adam().WeightDecay(0.1).Done() }
	variants := []struct {
		name string
		opt  func() optimizer.Interface
	}{
		{"adamw", adamW},
		{"gct-eg2", func() optimizer.Interface { return GCT(adamW()).BitsPerElement(2).Done() }},
		{"gct-rans1", func() optimizer.Interface { return GCT(adamW()).Coder(CoderRANS).BitsPerElement(1).Done() }},
		{"gct-rans0.5", func() optimizer.Interface { return GCT(adamW()).Coder(CoderRANS).BitsPerElement(0.5).Done() }},
		{"gct-auto1", func() optimizer.Interface { return GCT(adamW()).Coder(CoderAuto).BitsPerElement(1).Done() }},
	}
	shapesByName := charlmShapes()
	total := 0
	for _, dims := range shapesByName {
		total += shapes.Make(dtypes.Float32, dims...).Size()
	}
	grad := tensors.FromFlatDataAndDimensions(ggGradient(total, 0.8, 1e-3, 1), total)
	execs := make([]*model.Exec, len(variants))
	for i, v := range variants {
		store := model.NewStore()
		store.SetParam(model.ParamInitialSeed, int64(1))
		store.SetParam(optimizer.ParamLearningRate, 1e-3)
		vars := make([]*model.Variable, 0, len(shapesByName))
		for name, dims := range shapesByName {
			vars = append(vars, store.RootScope().VariableWithShape(name, shapes.Make(dtypes.Float32, dims...)))
		}
		opt := v.opt()
		exec, err := model.NewExec(testbackend.Get(b), store, func(scope *model.Scope, flat *Node) *Node {
			g := flat.Graph()
			for _, variable := range vars {
				_ = variable.NodeValue(g)
			}
			// The gradients, in the order of the trainable variables the graph uses.
			var grads []*Node
			offset := 0
			for variable := range scope.IterVariables() {
				if !variable.Trainable || !variable.InUseByGraph(g) {
					continue
				}
				n := variable.Shape().Size()
				grads = append(grads, Reshape(Slice(flat, AxisRange(offset, offset+n)), variable.Shape().Dimensions...))
				offset += n
			}
			opt.(interface {
				UpdateGraphWithGradients(*model.Scope, []*Node, dtypes.DType)
			}).UpdateGraphWithGradients(scope, grads, dtypes.Float32)
			return ReduceAllSum(grads[0])
		})
		require.NoError(b, err)
		_, err = exec.Call(grad) // Compiles.
		require.NoError(b, err)
		execs[i] = exec
	}
	wall := make([]time.Duration, len(variants))
	b.ResetTimer()
	for range b.N {
		for i, exec := range execs {
			start := time.Now()
			if _, err := exec.Call(grad); err != nil {
				b.Fatal(err)
			}
			wall[i] += time.Since(start)
		}
	}
	b.StopTimer()
	perStep := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 / float64(b.N) }
	for i, v := range variants {
		b.ReportMetric(perStep(wall[i]), v.name+"-ms/step")
		if i > 0 {
			b.ReportMetric(perStep(wall[i]-wall[0]), v.name+"-extra-ms")
		}
	}
}
