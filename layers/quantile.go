package layers

import (
	"math"
	"sync"

	"github.com/ggprior/ggprior/ggx"
	. "github.com/gomlx/gomlx/core/graph"
)

// The grid of the standardized GG magnitude quantile.
const (
	gridBetas  = 96
	gridLevels = 512
	gridMaxS   = 0.9995
)

// magnitudeGrid tabulates the standardized GG magnitude quantile y(beta, s),
// P(|X| < y) = s for X ~ GG(0, 1, beta), over log(beta) x s.
var magnitudeGrid = sync.OnceValue(func() *ggx.Table2D {
	b0, b1 := math.Log(ggx.GraphBetaMin), math.Log(ggx.GraphBetaMax)
	t := &ggx.Table2D{X0: b0, HX: (b1 - b0) / (gridBetas - 1), HY: gridMaxS / (gridLevels - 1), NX: gridBetas,
		Z: make([]float64, gridBetas*gridLevels)}
	for i := range gridBetas {
		d := ggx.Dist{Alpha: 1, Beta: math.Exp(b0 + float64(i)*t.HX)}
		for j := range gridLevels {
			t.Z[i*gridLevels+j] = d.Quantile(0.5 + float64(j)*t.HY/2)
		}
	}
	return t
})

// magnitudeQuantile returns y(beta, s) (Float32 scalars in, Float32 scalar out)
// by bilinear interpolation of the grid, beta clamped to the fit's range and s
// to [0, gridMaxS].
func magnitudeQuantile(beta, s *Node) *Node {
	return magnitudeGrid().Lookup(Log(beta), s)
}
