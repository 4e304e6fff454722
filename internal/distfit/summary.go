package distfit

import (
	"fmt"
	"github.com/ggprior/ggprior/internal/stats"
	"slices"
	"strings"

	"github.com/ggprior/ggprior/internal/tensorkind"
)

// Group summarizes the reports of a group of tensors (all, one kind, or one
// layer kind of one kind).
type Group struct {
	// Tensors is the number of tensors in the group.
	Tensors int `json:"tensors"`
	// Best counts the tensors for which each model fits best (smallest KS
	// distance), keyed by ModelGG, ModelGaussian, ModelLaplacian.
	Best map[string]int `json:"best"`
	// GGNotRejected counts the tensors whose GG fit passes the KS test at the 1%
	// level (KS distance below TensorReport.KSCritical).
	GGNotRejected int `json:"gg_not_rejected_1pct"`
	// MedianBetaMLE and MedianBetaMoment are the medians over the group of the
	// shape fitted by maximum likelihood and by the moment ratio.
	MedianBetaMLE    float64 `json:"median_beta_mle"`
	MedianBetaMoment float64 `json:"median_beta_moment"`
	// MinBetaMLE and MaxBetaMLE give the range of the shape fitted by maximum
	// likelihood.
	MinBetaMLE float64 `json:"min_beta_mle"`
	MaxBetaMLE float64 `json:"max_beta_mle"`
}

// Summary summarizes a set of tensor reports: over all tensors, per kind
// (weights, activations, gradients) and per layer kind within each kind.
type Summary struct {
	// All is the summary over every report.
	All Group `json:"all"`
	// ByKind holds a Group per kind present, keyed by tensorkind.Weights, ...
	ByKind map[string]Group `json:"by_kind"`
	// ByLayer holds a Group per kind and layer kind present, keyed by
	// "kind/layer", e.g. "weights/attention".
	ByLayer map[string]Group `json:"by_layer"`
}

// Summarize computes the Summary of reports.
func Summarize(reports []TensorReport) Summary {
	s := Summary{All: summarizeGroup(reports), ByKind: map[string]Group{}, ByLayer: map[string]Group{}}
	byKind := map[string][]TensorReport{}
	byLayer := map[string][]TensorReport{}
	for _, r := range reports {
		byKind[r.Kind] = append(byKind[r.Kind], r)
		key := r.Kind + "/" + r.Layer
		byLayer[key] = append(byLayer[key], r)
	}
	for k, rs := range byKind {
		s.ByKind[k] = summarizeGroup(rs)
	}
	for k, rs := range byLayer {
		s.ByLayer[k] = summarizeGroup(rs)
	}
	return s
}

// summarizeGroup computes the Group of reports.
func summarizeGroup(reports []TensorReport) Group {
	g := Group{Tensors: len(reports), Best: map[string]int{}}
	var mle, moment []float64
	for _, r := range reports {
		g.Best[r.Best]++
		if r.KS[ModelGG] < r.KSCritical {
			g.GGNotRejected++
		}
		mle = append(mle, r.MLE.Beta)
		moment = append(moment, r.Moment.Beta)
	}
	if len(mle) > 0 { // Otherwise all stay 0: JSON has no NaN.
		g.MedianBetaMLE, g.MedianBetaMoment = stats.Median(mle), stats.Median(moment)
		g.MinBetaMLE, g.MaxBetaMLE = slices.Min(mle), slices.Max(mle)
	}
	return g
}

// sortedKeys returns the keys of m present in order first, then any others
// sorted.
func sortedKeys[V any](m map[string]V, order []string) []string {
	var keys []string
	for _, k := range order {
		if _, ok := m[k]; ok {
			keys = append(keys, k)
		}
	}
	var rest []string
	for k := range m {
		if !slices.Contains(order, k) {
			rest = append(rest, k)
		}
	}
	slices.Sort(rest)
	return append(keys, rest...)
}

// String returns the summary in two lines, e.g.
//
//	GG fits best for 47/50 tensors (gaussian 2, laplacian 1); GG not rejected (KS, 1%) for 12/50
//	median beta (MLE): weights 1.30 [attention 1.28 (24), mlp 1.35 (24), embedding 1.10 (2)]
func (s Summary) String() string {
	if s.All.Tensors == 0 {
		return "no tensors analyzed"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "GG fits best for %d/%d tensors", s.All.Best[ModelGG], s.All.Tensors)
	var others []string
	for _, m := range models[1:] {
		if n := s.All.Best[m]; n > 0 {
			others = append(others, fmt.Sprintf("%s %d", m, n))
		}
	}
	if len(others) > 0 {
		fmt.Fprintf(&b, " (%s)", strings.Join(others, ", "))
	}
	fmt.Fprintf(&b, "; GG not rejected (KS, 1%%) for %d/%d\nmedian beta (MLE):", s.All.GGNotRejected, s.All.Tensors)
	for i, kind := range sortedKeys(s.ByKind, tensorkind.All) {
		if i > 0 {
			b.WriteString(";")
		}
		g := s.ByKind[kind]
		fmt.Fprintf(&b, " %s %.2f (%d)", kind, g.MedianBetaMLE, g.Tensors)
		var layers []string
		var order []string
		for _, l := range LayerKinds {
			order = append(order, kind+"/"+l)
		}
		for _, key := range sortedKeys(s.ByLayer, order) {
			layer, ok := strings.CutPrefix(key, kind+"/")
			if !ok {
				continue
			}
			lg := s.ByLayer[key]
			layers = append(layers, fmt.Sprintf("%s %.2f (%d)", layer, lg.MedianBetaMLE, lg.Tensors))
		}
		if len(layers) > 1 {
			fmt.Fprintf(&b, " [%s]", strings.Join(layers, ", "))
		}
	}
	return b.String()
}
