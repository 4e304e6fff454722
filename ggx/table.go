package ggx

import (
	"math"

	"github.com/gomlx/compute/dtypes"
	. "github.com/gomlx/gomlx/core/graph"
)

// interpTable is a function tabulated on a uniform grid x0, x0+h, ..., x0+(n-1)*h,
// evaluated in the graph by linear interpolation. It is how the in-graph code
// evaluates special functions (GG quantiles, the moment-ratio inverse) that GoMLX
// has no op for: the table is computed once on the host in float64.
type interpTable struct {
	x0, h float64
	y     []float64
}

// xMax is the last grid point.
func (t *interpTable) xMax() float64 { return t.x0 + float64(len(t.y)-1)*t.h }

// at evaluates the table on the host (same interpolation as in the graph), for tests.
func (t *interpTable) at(x float64) float64 {
	pos := (x - t.x0) / t.h
	pos = math.Max(0, math.Min(pos, float64(len(t.y)-1)))
	i := int(math.Floor(pos))
	if i > len(t.y)-2 {
		i = len(t.y) - 2
	}
	frac := pos - float64(i)
	return t.y[i] + frac*(t.y[i+1]-t.y[i])
}

// graphTables returns the value and slope tables as graph constants of the given
// dtype: values[i] = y[i], slopes[i] = y[i+1]-y[i], for i in [0, n-1).
func (t *interpTable) graphTables(g *Graph, dtype dtypes.DType) (values, slopes *Node) {
	n := len(t.y) - 1
	v := make([]float64, n)
	s := make([]float64, n)
	for i := range n {
		v[i] = t.y[i]
		s[i] = t.y[i+1] - t.y[i]
	}
	values = ConvertDType(Const(g, v), dtype)
	slopes = ConvertDType(Const(g, s), dtype)
	return
}

// lookup interpolates the table at x (any shape, float dtype), clamping x to the
// table's range. The result has x's shape and dtype.
func (t *interpTable) lookup(x *Node) *Node {
	g := x.Graph()
	dtype := x.DType()
	n := len(t.y) - 1 // Number of intervals.
	values, slopes := t.graphTables(g, dtype)
	pos := MulScalar(AddScalar(x, -t.x0), 1/t.h)
	pos = ClipScalar(pos, 0, float64(n))
	idxF := MinScalar(Floor(pos), float64(n-1))
	frac := Sub(pos, idxF)
	idx := ExpandAxes(ConvertDType(idxF, dtypes.Int32), -1)
	v := Gather(values, idx)
	s := Gather(slopes, idx)
	return Add(v, Mul(frac, s))
}
