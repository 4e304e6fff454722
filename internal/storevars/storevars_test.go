package storevars

import (
	"testing"

	"github.com/ggprior/ggprior/internal/testbackend"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/model/initializer"
	"github.com/stretchr/testify/require"
)

// TestStoreVars: State and SetMetric make non-trainable variables (a metric:
// a Float32 scalar holding the value of the step); Trainable lists the
// trainable variables the graph uses, in the order of their gradients.
func TestStoreVars(t *testing.T) {
	store := model.NewStore()
	scope := store.RootScope()
	scope.VariableWithValue("unused", float32(1))
	exec, err := model.NewExec(testbackend.Get(t), store, func(scope *model.Scope, x *Node) []*Node {
		g := x.Graph()
		a := scope.VariableWithValue("a", []float32{1, 2}).NodeValue(g)
		b := scope.In("sub").VariableWithValue("b", float32(3)).NodeValue(g)
		s := scope.In("s").WithInitializer(initializer.Zero)
		state := State(s, "count", shapes.Make(dtypes.Int64))
		state.SetNodeValue(AddScalar(state.NodeValue(g), 1))
		SetMetric(s, "mean", ReduceAllMean(x)) // Float64 in, Float32 stored.
		var names []string
		for _, v := range Trainable(scope, g) {
			names = append(names, v.Path())
		}
		require.Equal(t, []string{"/a", "/sub/b"}, names)
		loss := Add(ReduceAllSum(Mul(a, ConvertDType(x, dtypes.Float32))), b)
		grads := scope.BuildTrainableVariablesGradientsGraph(loss)
		require.Len(t, grads, 2)
		return grads
	})
	require.NoError(t, err)
	for range 2 {
		_, err = exec.Call([]float64{4, 6})
		require.NoError(t, err)
	}
	count := store.GetVariable("/s/count")
	require.False(t, count.Trainable)
	require.Equal(t, int64(2), tensors.ToScalar[int64](count.MustValue()))
	mean := store.GetVariable("/s/mean")
	require.False(t, mean.Trainable)
	require.Equal(t, float32(5), tensors.ToScalar[float32](mean.MustValue()))
}
