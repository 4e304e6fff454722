package layers

import (
	"math"
	"sync"

	"github.com/ggprior/ggprior/ggx"
	"github.com/gomlx/compute/dtypes"
	. "github.com/gomlx/gomlx/core/graph"
)

// quantileGrid tabulates the standardized GG magnitude quantile y(beta, s),
// P(|X| < y) = s for X ~ GG(0, 1, beta), over log(beta) x s.
type quantileGrid struct {
	b0, bh float64 // log(beta) grid.
	sh     float64 // s grid: 0, sh, ..., (ns-1)*sh.
	nb, ns int
	y      []float64 // [nb * ns], row-major in beta.
}

const (
	gridBetas  = 96
	gridLevels = 512
	gridMaxS   = 0.9995
)

var magnitudeGrid = sync.OnceValue(func() *quantileGrid {
	b0, b1 := math.Log(ggx.GraphBetaMin), math.Log(ggx.GraphBetaMax)
	q := &quantileGrid{b0: b0, bh: (b1 - b0) / (gridBetas - 1), sh: gridMaxS / (gridLevels - 1), nb: gridBetas, ns: gridLevels}
	q.y = make([]float64, gridBetas*gridLevels)
	for i := range gridBetas {
		d := ggx.Dist{Alpha: 1, Beta: math.Exp(b0 + float64(i)*q.bh)}
		for j := range gridLevels {
			q.y[i*gridLevels+j] = d.Quantile(0.5 + float64(j)*q.sh/2)
		}
	}
	return q
})

// magnitudeQuantile returns y(beta, s) (Float32 scalars in, Float32 scalar out)
// by bilinear interpolation of the grid, beta clamped to the fit's range and s
// to [0, gridMaxS].
func magnitudeQuantile(beta, s *Node) *Node {
	q := magnitudeGrid()
	g := beta.Graph()
	fb := ClipScalar(MulScalar(AddScalar(Log(beta), -q.b0), 1/q.bh), 0, float64(q.nb-1))
	fs := ClipScalar(MulScalar(s, 1/q.sh), 0, float64(q.ns-1))
	ib := MinScalar(Floor(fb), float64(q.nb-2))
	is := MinScalar(Floor(fs), float64(q.ns-2))
	tb, ts := Sub(fb, ib), Sub(fs, is)
	table := ConvertDType(Const(g, q.y), dtypes.Float32)
	at := func(db, ds float64) *Node {
		idx := Add(MulScalar(AddScalar(ib, db), float64(q.ns)), AddScalar(is, ds))
		return Reshape(Gather(table, Reshape(ConvertDType(idx, dtypes.Int32), 1)))
	}
	lo := Add(at(0, 0), Mul(ts, Sub(at(0, 1), at(0, 0))))
	hi := Add(at(1, 0), Mul(ts, Sub(at(1, 1), at(1, 0))))
	return Add(lo, Mul(tb, Sub(hi, lo)))
}
