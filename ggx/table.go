package ggx

import (
	"math"

	"github.com/gomlx/compute/dtypes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/support/exceptions"
)

// Table is a function tabulated on the uniform grid X0, X0+H, ..., X0+(len(Y)-1)*H,
// evaluated in the graph by linear interpolation (Lookup). It is how ggprior's
// graph code evaluates special functions that GoMLX has no op for (GG quantiles,
// the moment-ratio inverse, the quantization step for a bit rate): the table is
// computed once on the host in float64. It needs at least 2 points.
type Table struct {
	X0, H float64
	Y     []float64
}

// xMax is the last grid point.
func (t *Table) xMax() float64 { return t.X0 + float64(len(t.Y)-1)*t.H }

// At evaluates the table on the host, with the same interpolation and clamping as Lookup.
func (t *Table) At(x float64) float64 {
	pos := (x - t.X0) / t.H
	pos = math.Max(0, math.Min(pos, float64(len(t.Y)-1)))
	i := int(math.Floor(pos))
	if i > len(t.Y)-2 {
		i = len(t.Y) - 2
	}
	frac := pos - float64(i)
	return t.Y[i] + frac*(t.Y[i+1]-t.Y[i])
}

// graphTables returns the value and slope tables as graph constants of the given
// dtype: values[i] = y[i], slopes[i] = y[i+1]-y[i], for i in [0, n-1).
func (t *Table) graphTables(g *Graph, dtype dtypes.DType) (values, slopes *Node) {
	n := len(t.Y) - 1
	v := make([]float64, n)
	s := make([]float64, n)
	for i := range n {
		v[i] = t.Y[i]
		s[i] = t.Y[i+1] - t.Y[i]
	}
	values = ConvertDType(Const(g, v), dtype)
	slopes = ConvertDType(Const(g, s), dtype)
	return
}

// Lookup interpolates the table at x (any shape, float dtype), clamping x to the
// table's range. The result has x's shape and dtype.
func (t *Table) Lookup(x *Node) *Node {
	g := x.Graph()
	dtype := x.DType()
	if len(t.Y) < 2 {
		exceptions.Panicf("ggx.Table: needs at least 2 points, has %d", len(t.Y))
	}
	n := len(t.Y) - 1 // Number of intervals.
	values, slopes := t.graphTables(g, dtype)
	pos := MulScalar(AddScalar(x, -t.X0), 1/t.H)
	pos = ClipScalar(pos, 0, float64(n))
	idxF := MinScalar(Floor(pos), float64(n-1))
	frac := Sub(pos, idxF)
	idx := ExpandAxes(ConvertDType(idxF, dtypes.Int32), -1)
	v := Gather(values, idx)
	s := Gather(slopes, idx)
	return Add(v, Mul(frac, s))
}
