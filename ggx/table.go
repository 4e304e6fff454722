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
	i, frac := hostCell(x, t.X0, t.H, len(t.Y)-1)
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
	if len(t.Y) < 2 {
		exceptions.Panicf("ggx.Table: needs at least 2 points, has %d", len(t.Y))
	}
	values, slopes := t.graphTables(x.Graph(), x.DType())
	idxF, frac := gridCell(x, t.X0, t.H, len(t.Y)-1)
	idx := ExpandAxes(ConvertDType(idxF, dtypes.Int32), -1)
	v := Gather(values, idx)
	s := Gather(slopes, idx)
	return Add(v, Mul(frac, s))
}

// gridCell returns, for x on the grid x0, x0+h, ..., x0+n*h (n intervals),
// clamped to it, the index i of its interval (as a float, 0 <= i < n) and
// its position in it, frac in [0, 1]: x = x0 + (i + frac)*h.
func gridCell(x *Node, x0, h float64, n int) (idx, frac *Node) {
	if x0 != 0 {
		x = AddScalar(x, -x0)
	}
	pos := ClipScalar(MulScalar(x, 1/h), 0, float64(n))
	idx = MinScalar(Floor(pos), float64(n-1))
	return idx, Sub(pos, idx)
}

// hostCell is gridCell on the host.
func hostCell(x, x0, h float64, n int) (i int, frac float64) {
	pos := math.Max(0, math.Min((x-x0)/h, float64(n)))
	i = min(int(math.Floor(pos)), n-1)
	return i, pos - float64(i)
}

// Table2D is a function of two variables tabulated on the uniform grid
// (X0 + i*HX, Y0 + j*HY), i < NX, j < NY = len(Z)/NX, evaluated in the graph
// by bilinear interpolation (Lookup): Table's counterpart for functions of
// two parameters (e.g. a GG quantile over the shape and the level). It needs
// at least 2 points along each axis.
type Table2D struct {
	X0, HX float64
	Y0, HY float64
	NX     int
	// Z holds the values row-major in x: Z[i*NY + j] = f(X0 + i*HX, Y0 + j*HY).
	Z []float64
}

// ny is the number of grid points along y.
func (t *Table2D) ny() int { return len(t.Z) / t.NX }

// check panics unless the table has at least 2x2 points and a whole number of rows.
func (t *Table2D) check() {
	if t.NX < 2 || len(t.Z)%t.NX != 0 || t.ny() < 2 {
		exceptions.Panicf("ggx.Table2D: needs at least 2x2 points in NX=%d rows, has %d values", t.NX, len(t.Z))
	}
}

// At evaluates the table on the host, with the same interpolation and
// clamping as Lookup.
func (t *Table2D) At(x, y float64) float64 {
	t.check()
	ny := t.ny()
	i, tx := hostCell(x, t.X0, t.HX, t.NX-1)
	j, ty := hostCell(y, t.Y0, t.HY, ny-1)
	z := func(di, dj int) float64 { return t.Z[(i+di)*ny+j+dj] }
	lo := z(0, 0) + ty*(z(0, 1)-z(0, 0))
	hi := z(1, 0) + ty*(z(1, 1)-z(1, 0))
	return lo + tx*(hi-lo)
}

// Lookup interpolates the table at (x, y) (nodes of the same shape and
// float dtype), clamping each to the table's range. The result has x's shape
// and dtype.
func (t *Table2D) Lookup(x, y *Node) *Node {
	t.check()
	ny := t.ny()
	ix, tx := gridCell(x, t.X0, t.HX, t.NX-1)
	iy, ty := gridCell(y, t.Y0, t.HY, ny-1)
	z := ConvertDType(Const(x.Graph(), t.Z), x.DType())
	at := func(di, dj float64) *Node {
		idx := Add(MulScalar(AddScalar(ix, di), float64(ny)), AddScalar(iy, dj))
		return Gather(z, ExpandAxes(ConvertDType(idx, dtypes.Int32), -1))
	}
	lo := Add(at(0, 0), Mul(ty, Sub(at(0, 1), at(0, 0))))
	hi := Add(at(1, 0), Mul(ty, Sub(at(1, 1), at(1, 0))))
	return Add(lo, Mul(tx, Sub(hi, lo)))
}
