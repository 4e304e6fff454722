package ggx

import (
	"fmt"
	"math"
	"testing"

	"github.com/ggprior/ggprior/internal/testbackend"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/model/initializer"
	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/stat"
)

// initVariables creates variables with the given initializers in a fresh,
// seeded store, initializes them on the test backend (testbackend.Get: the
// pure-Go backend unless GGPRIOR_TEST_BACKEND names another) and returns
// their values as float64.
func initVariables(t *testing.T, seed int64, setup func(scope *model.Scope)) map[string][]float64 {
	t.Helper()
	store := model.NewStore()
	store.SetParam(model.ParamInitialSeed, seed)
	setup(store.RootScope())
	require.NoError(t, store.InitializeVariables(testbackend.Get(t), nil))
	values := make(map[string][]float64)
	for v := range store.IterVariables() {
		if !v.Trainable {
			continue
		}
		tensor := v.MustValue()
		var xs []float64
		switch v.DType() {
		case dtypes.Float32:
			for _, x := range tensors.MustCopyFlatData[float32](tensor) {
				xs = append(xs, float64(x))
			}
		case dtypes.Float64:
			xs = tensors.MustCopyFlatData[float64](tensor)
		case dtypes.Int32:
			for _, x := range tensors.MustCopyFlatData[int32](tensor) {
				xs = append(xs, float64(x))
			}
		}
		values[v.Path()] = xs
	}
	return values
}

// TestInitVariance: Var(W) = xi/fan within sampling error, for each fan mode
// and for a fixed StdDev; the values follow the intended GG (KS at 99%).
func TestInitVariance(t *testing.T) {
	shape := shapes.Make(dtypes.Float32, 256, 512)
	n := shape.Size()
	cases := []struct {
		name string
		cfg  func(c *InitConfig) *InitConfig
		std  float64
	}{
		{"default-he-fanin", func(c *InitConfig) *InitConfig { return c }, math.Sqrt(2.0 / 256)},
		{"gain1-fanin", func(c *InitConfig) *InitConfig { return c.Gain(1) }, math.Sqrt(1.0 / 256)},
		{"fanout", func(c *InitConfig) *InitConfig { return c.Gain(1).FanOut() }, math.Sqrt(1.0 / 512)},
		{"fanavg", func(c *InitConfig) *InitConfig { return c.Gain(1).FanAvg() }, math.Sqrt(1.0 / 384)},
		{"stddev", func(c *InitConfig) *InitConfig { return c.StdDev(0.02) }, 0.02},
	}
	for i, tc := range cases {
		for _, beta := range []float64{0.7, 1.4, 2} {
			t.Run(fmt.Sprintf("%s/beta=%g", tc.name, beta), func(t *testing.T) {
				values := initVariables(t, int64(10+i), func(scope *model.Scope) {
					scope = scope.WithInitializer(tc.cfg(Init(scope).Beta(beta)).Done())
					scope.VariableWithShape("w", shape)
				})
				xs := values["/w"]
				require.Len(t, xs, n)
				d := FromStdDev(0, tc.std, beta)
				variance := stat.Variance(xs, nil)
				seVar := d.Variance() * math.Sqrt((d.ExKurtosis()+2)/float64(n))
				require.InDelta(t, d.Variance(), variance, 5*seVar)
				require.Less(t, KS(xs, d), ksCritical99(n))
			})
		}
	}
}

// TestInitBeta2IsGaussian: Beta(2) is distributed as GoMLX's Gaussian
// initializer of the same variance (two-sample KS at 99%: 1.63*sqrt(2/n)).
func TestInitBeta2IsGaussian(t *testing.T) {
	shape := shapes.Make(dtypes.Float32, 300, 400)
	values := initVariables(t, 3, func(scope *model.Scope) {
		scope.WithInitializer(Init(scope).Beta(2).StdDev(0.05).Done()).VariableWithShape("gg", shape)
		scope.WithInitializer(initializer.RandomNormalFn(scope, 0.05)).VariableWithShape("normal", shape)
	})
	n := shape.Size()
	ks := twoSampleKS(values["/gg"], values["/normal"])
	require.Less(t, ks, 1.63*math.Sqrt(2/float64(n)), "two-sample KS=%g", ks)
}

// TestInitZerosAndParams: biases, rank-1 and non-float variables are zero;
// hyperparameters come from the scope.
func TestInitZerosAndParams(t *testing.T) {
	shape := shapes.Make(dtypes.Float64, 200, 300)
	values := initVariables(t, 4, func(scope *model.Scope) {
		scope.SetParam(ParamBeta, 0.8)
		scope.SetParam(ParamGain, 1.0)
		scope.SetParam(ParamFan, "out")
		scope = scope.WithInitializer(Init(scope).Done())
		scope.VariableWithShape("bias", shapes.Make(dtypes.Float32, 7))
		scope.VariableWithShape("ints", shapes.Make(dtypes.Int32, 3, 3))
		scope.VariableWithShape("w", shape)
	})
	for _, name := range []string{"/bias", "/ints"} {
		for _, x := range values[name] {
			require.Zero(t, x, name)
		}
	}
	d := FromStdDev(0, math.Sqrt(1.0/300), 0.8)
	require.Less(t, KS(values["/w"], d), ksCritical99(shape.Size()))
}

// TestInitRebind: BetaFor patterns give each matching variable its own shape.
func TestInitRebind(t *testing.T) {
	shape := shapes.Make(dtypes.Float32, 256, 256)
	var rebound int
	values := initVariables(t, 5, func(scope *model.Scope) {
		cfg := Init(scope).StdDev(0.1).Beta(2).BetaFor(`/attn/`, 0.6).BetaFor(`embed`, 1.0)
		scope = scope.WithInitializer(cfg.Done())
		scope.In("attn").VariableWithShape("w", shape)
		scope.In("embed").VariableWithShape("table", shape)
		scope.In("mlp").VariableWithShape("w", shape)
		scope.Shared("attn").VariableWithShape("b", shapes.Make(dtypes.Float32, 256))
		rebound = cfg.Rebind(scope.Store())
	})
	require.Equal(t, 2, rebound)
	n := shape.Size()
	for path, beta := range map[string]float64{"/attn/w": 0.6, "/embed/table": 1.0, "/mlp/w": 2} {
		require.Less(t, KS(values[path], FromStdDev(0, 0.1, beta)), ksCritical99(n), path)
	}
	for _, x := range values["/attn/b"] {
		require.Zero(t, x)
	}
}

func TestInitBadConfig(t *testing.T) {
	scope := model.NewStore().RootScope()
	require.Panics(t, func() { Init(scope).Beta(0).Done() })
	require.Panics(t, func() { Init(scope).Beta(math.Inf(1)).Done() })
	require.Panics(t, func() { Init(scope).Gain(-1).Done() })
	require.Panics(t, func() { Init(scope).StdDev(math.NaN()) })
	require.Panics(t, func() { Init(scope).BetaFor("(", 1) })
	require.Panics(t, func() { Init(scope).BetaFor("x", -1) })
	scope.SetParam(ParamFan, "sideways")
	require.Panics(t, func() { Init(scope) })
}

// TestInitBetaRange checks that the builder refuses, at once and with the
// range in its message, shapes outside [MinBeta, MaxBeta]: beta = 0.001 gave
// weights whose GG scale underflows (every value NaN or 0) and 0.04 a model
// that diverges, both only once training ran.
func TestInitBetaRange(t *testing.T) {
	scope := model.NewStore().RootScope()
	for _, beta := range []float64{0.001, 0.04, 50.5, 1e6} {
		requirePanicsWith(t, "[0.05, 50]", func() { Init(scope).Beta(beta) }, "Beta(%g)", beta)
		requirePanicsWith(t, "[0.05, 50]", func() { Init(scope).BetaFor("x", beta) }, "BetaFor(%g)", beta)
	}
	scope.SetParam(ParamBeta, 0.001)
	requirePanicsWith(t, ParamBeta, func() { Init(scope).Done() }, "hyperparameter %s=0.001", ParamBeta)
	scope.SetParam(ParamBeta, MinBeta)
	require.NotPanics(t, func() { Init(scope).Done() })
	require.NotPanics(t, func() { Init(scope).Beta(MaxBeta).Done() })
}

// requirePanicsWith checks that fn panics with a message containing want.
func requirePanicsWith(t *testing.T, want string, fn func(), msgAndArgs ...any) {
	t.Helper()
	var msg string
	func() {
		defer func() {
			if r := recover(); r != nil {
				msg = fmt.Sprint(r)
			}
		}()
		fn()
	}()
	require.NotEmpty(t, msg, msgAndArgs...)
	require.Contains(t, msg, want, msgAndArgs...)
}

// twoSampleKS returns the two-sample Kolmogorov-Smirnov distance.
func twoSampleKS(a, b []float64) float64 {
	a = sortedCopy(a)
	b = sortedCopy(b)
	var i, j int
	var d float64
	for i < len(a) && j < len(b) {
		x := math.Min(a[i], b[j])
		for i < len(a) && a[i] <= x {
			i++
		}
		for j < len(b) && b[j] <= x {
			j++
		}
		d = math.Max(d, math.Abs(float64(i)/float64(len(a))-float64(j)/float64(len(b))))
	}
	return d
}
