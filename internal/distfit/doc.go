// Package distfit measures the evidence for the generalized-Gaussian (GG) claim
// on the tensors of a neural network: for each tensor it fits a GG (by the
// moment ratio, as the paper does, and by maximum likelihood), a Gaussian and a
// Laplacian, compares them by Kolmogorov-Smirnov distance and log-likelihood,
// and summarizes which model wins and what shapes (beta) the tensors have, by
// kind (weights, activations, gradients) and by layer kind (embedding,
// attention, MLP, ...).
//
// The fitting itself is package ggx's (ggx.Fit, ggx.Compare); this package adds
// seeded subsampling of large tensors (Options, SampleIndices), the per-tensor
// report (Analyze, AnalyzeSample, TensorReport), the summary (Summarize), the
// outputs (Table, WriteJSON, PlotTensor, PlotBetas) and the hooks for live runs
// (Sink, Accumulator, CaptureOptions, CaptureFunc).
//
// Typical use, for tensors read from a file:
//
//	opts := distfit.Options{Seed: 1}
//	var reports []distfit.TensorReport
//	for name, values := range tensors {
//		r, err := distfit.Analyze(name, values, opts)
//		if err != nil {
//			continue // e.g. a constant or binary tensor
//		}
//		reports = append(reports, r)
//	}
//	fmt.Println(distfit.Summarize(reports))
package distfit
