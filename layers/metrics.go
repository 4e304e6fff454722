package layers

import (
	"fmt"
	"sort"
	"strings"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
)

// SiteMetrics are one ACT site's metrics of the last training step.
type SiteMetrics struct {
	// Site is the site's scope path (ending in "/act").
	Site string
	// Sparsity is the achieved fraction of exact zeros (and of the next dense
	// layer's skippable multiply-adds).
	Sparsity float64
	// Threshold is the running threshold tau (used frozen at inference).
	Threshold float64
	// Beta is the GG shape fitted to the site's input.
	Beta float64
	// BitsPerActivation is the coded size after int8 quantization and Exp-Golomb coding
	// (see MetricBitsPerActivation).
	BitsPerActivation float64
}

// ReadMetrics returns the metrics of every ACT site in store, sorted by site path.
func ReadMetrics(store *model.Store) ([]SiteMetrics, error) {
	sites := map[string]*SiteMetrics{}
	for v := range store.IterVariables() {
		scope, name := model.SplitPath(v.Path())
		if !strings.HasSuffix(scope, "/act") || v.DType() != dtypes.Float32 || v.Shape().Rank() != 0 || !v.HasValue() {
			continue
		}
		value := float64(tensors.ToScalar[float32](v.MustValue()))
		m := sites[scope]
		if m == nil {
			m = &SiteMetrics{Site: scope}
		}
		switch name {
		case MetricSparsity:
			m.Sparsity = value
		case MetricThreshold:
			m.Threshold = value
		case MetricBeta:
			m.Beta = value
		case MetricBitsPerActivation:
			m.BitsPerActivation = value
		default:
			continue
		}
		sites[scope] = m
	}
	if len(sites) == 0 {
		return nil, fmt.Errorf("layers.ReadMetrics: no ACT metrics in the store (has an ACT training step run?)")
	}
	out := make([]SiteMetrics, 0, len(sites))
	for _, m := range sites {
		out = append(out, *m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Site < out[j].Site })
	return out, nil
}
