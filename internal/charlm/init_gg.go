package charlm

import (
	"github.com/ggprior/ggprior/ggx"
	"github.com/gomlx/gomlx/ml/model"
)

// initGG draws every weight matrix from a zero-mean generalized Gaussian with
// exactly the baseline's standard deviation for its kind (see baselineStd) and
// the shape beta given for its kind (Betas.For). With beta = 2 for every kind it
// is the baseline normal02 in distribution.
func initGG(betas Betas) InitFn {
	return func(scope *model.Scope, kind string, std float64) model.VariableInitializer {
		return ggx.Init(scope).Beta(betas.For(kind)).StdDev(std).Done()
	}
}
