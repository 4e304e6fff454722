package generate

import (
	"bytes"
	"encoding/json"
	"runtime"
	"slices"
	"time"

	"github.com/ggprior/ggprior/internal/outfile"
	"github.com/pkg/errors"
)

// BenchOptions configure Bench.
type BenchOptions struct {
	// Repeats is the number of timed decodes of each path (at least 1;
	// 0 means DefaultBenchRepeats). The paths alternate, after one untimed
	// decode of each, and each path's median time counts.
	Repeats int
	// Graph, if not nil, is also timed: GraphTokens greedy bytes per
	// prompt, one graph forward per byte (0 means min(n, DefaultGraphTokens)).
	Graph       *GraphForward
	GraphTokens int
}

// Defaults of BenchOptions.
const (
	DefaultBenchRepeats = 15
	DefaultGraphTokens  = 32
)

// BenchResult is what Bench measures (the JSON that charlm -bench-decode writes).
type BenchResult struct {
	// Checkpoint, Model and ACTSites describe the model decoded.
	Checkpoint string   `json:"checkpoint"`
	Model      string   `json:"model"`
	ACTSites   []string `json:"act_sites"`
	// Tokens is the number of bytes decoded per prompt, Batch the number
	// of prompts decoded together, PromptBytes their lengths.
	Tokens      int   `json:"decode_tokens"`
	Batch       int   `json:"decode_batch"`
	PromptBytes []int `json:"prompt_bytes"`
	// Repeats is the number of timed decodes of each path; the Seconds
	// lists hold their times (decoding only: after the prompts are encoded).
	Repeats       int       `json:"decode_repeats"`
	SecondsDense  []float64 `json:"decode_seconds_dense"`
	SecondsSparse []float64 `json:"decode_seconds_sparse"`
	// TokensPerSecDense and TokensPerSecSparse are Tokens*Batch over each
	// path's median time, Speedup their ratio (sparse over dense).
	TokensPerSecDense  float64 `json:"decode_tokens_per_sec_dense"`
	TokensPerSecSparse float64 `json:"decode_tokens_per_sec_sparse"`
	Speedup            float64 `json:"decode_speedup"`
	// SameTokens is true when the two paths decoded the same bytes (in
	// every repeat).
	SameTokens bool `json:"decode_same_tokens"`
	// SparsityBySite is each ACT site's fraction of zeros while decoding
	// ("block_LLL/<site>"), ThresholdBySite its frozen threshold.
	SparsityBySite  map[string]float64 `json:"decode_sparsity_by_site"`
	ThresholdBySite map[string]float64 `json:"act_threshold_by_site"`
	// SkippableMACs is the fraction of all the products' multiply-adds
	// (projections and head) whose activation is an ACT zero: what the
	// sparse path skips.
	SkippableMACs float64 `json:"decode_skippable_macs"`
	// Text is what the dense path decoded after the first prompt.
	Text string `json:"decode_text"`
	// GraphTokens, GraphTokensPerSec: the greedy bytes per prompt that the
	// GoMLX graph decoded (one forward of the padded window per byte) and
	// its speed; DenseVsGraph is TokensPerSecDense over it; GraphSameTokens
	// tells whether the graph decoded the engine's bytes. Absent without a graph.
	GraphTokens       int     `json:"graph_decode_tokens,omitempty"`
	GraphTokensPerSec float64 `json:"graph_decode_tokens_per_sec,omitempty"`
	DenseVsGraph      float64 `json:"decode_dense_vs_graph,omitempty"`
	GraphSameTokens   *bool   `json:"graph_same_tokens,omitempty"`
	// GOMAXPROCS is the Go scheduler's parallelism during the run.
	GOMAXPROCS int `json:"gomaxprocs"`
}

// Bench decodes n bytes greedily after each prompt (decoded together) with
// the dense and the ACT-sparse path on the engine's weights, and measures
// their speed, whether they agree, and the ACT sites' sparsity. On a model
// without ACT the sparse path is the dense one (a control).
func Bench(e *Engine, prompts [][]byte, n int, opt BenchOptions) (*BenchResult, error) {
	if err := e.checkRequest(prompts, n, Options{}); err != nil {
		return nil, err
	}
	repeats := opt.Repeats
	if repeats == 0 {
		repeats = DefaultBenchRepeats
	}
	if repeats < 0 {
		return nil, errors.Errorf("bench repeats %d: want >= 1", repeats)
	}
	r := &BenchResult{
		Checkpoint: e.Checkpoint, Model: e.Config.String(), ACTSites: slices.Clone(e.ACTSites),
		Tokens: n, Batch: len(prompts), Repeats: repeats, ThresholdBySite: e.Thresholds(),
		GOMAXPROCS: runtime.GOMAXPROCS(0),
	}
	if r.ACTSites == nil {
		r.ACTSites = []string{}
	}
	for _, p := range prompts {
		r.PromptBytes = append(r.PromptBytes, len(p))
	}
	var dense, sparse [][]byte
	r.SameTokens = true
	for i := -1; i < repeats; i++ { // i == -1: untimed warm-up.
		for _, sp := range []bool{i%2 == 0, i%2 != 0} {
			out, dt, st, err := e.timedDecode(prompts, n, sp)
			if err != nil {
				return nil, err
			}
			if dense == nil && !sp {
				dense = out
			}
			if sparse == nil && sp {
				sparse, r.SparsityBySite = out, st.SparsityBySite
				if st.MACs > 0 {
					r.SkippableMACs = float64(st.SkippableMACs) / float64(st.MACs)
				}
			}
			ref := dense
			if ref == nil {
				ref = sparse
			}
			r.SameTokens = r.SameTokens && equalRows(out, ref)
			if i < 0 {
				continue
			}
			if sp {
				r.SecondsSparse = append(r.SecondsSparse, dt.Seconds())
			} else {
				r.SecondsDense = append(r.SecondsDense, dt.Seconds())
			}
		}
	}
	total := float64(n * len(prompts))
	r.TokensPerSecDense = total / median(r.SecondsDense)
	r.TokensPerSecSparse = total / median(r.SecondsSparse)
	r.Speedup = r.TokensPerSecSparse / r.TokensPerSecDense
	r.Text = string(dense[0])

	if opt.Graph != nil {
		gn := opt.GraphTokens
		if gn == 0 {
			gn = min(n, DefaultGraphTokens)
		}
		if gn < 0 || gn > n {
			return nil, errors.Errorf("graph tokens %d: want 1 to %d (the bytes the engine decodes)", gn, n)
		}
		if _, err := opt.Graph.Greedy(prompts, 1); err != nil { // Compiles the graph.
			return nil, err
		}
		start := time.Now()
		out, err := opt.Graph.Greedy(prompts, gn)
		if err != nil {
			return nil, err
		}
		r.GraphTokens = gn
		r.GraphTokensPerSec = float64(gn*len(prompts)) / time.Since(start).Seconds()
		r.DenseVsGraph = r.TokensPerSecDense / r.GraphTokensPerSec
		same := true
		for i, row := range out {
			same = same && bytes.Equal(row, dense[i][:gn])
		}
		r.GraphSameTokens = &same
	}
	return r, nil
}

// timedDecode decodes n greedy bytes after the prompts with one path and
// returns them, the time of the decoding (after the prompts are encoded)
// and the decoder's statistics over it.
func (e *Engine) timedDecode(prompts [][]byte, n int, sparse bool) ([][]byte, time.Duration, Stats, error) {
	d, err := e.NewDecoder(len(prompts), sparse)
	if err != nil {
		return nil, 0, Stats{}, err
	}
	if err := d.Start(prompts); err != nil {
		return nil, 0, Stats{}, err
	}
	d.ResetStats()
	start := time.Now()
	out, err := d.Decode(n, newSampler(Options{}))
	dt := time.Since(start)
	if err != nil {
		return nil, 0, Stats{}, err
	}
	return out, dt, d.Stats(), nil
}

// equalRows reports whether a and b hold the same rows.
func equalRows(a, b [][]byte) bool {
	return slices.EqualFunc(a, b, bytes.Equal)
}

// median returns the median of xs (not empty).
func median(xs []float64) float64 {
	s := slices.Sorted(slices.Values(xs))
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// WriteJSON writes the result as indented JSON to path, whole (see
// internal/outfile): an error leaves no file written half-way.
func (r *BenchResult) WriteJSON(path string) error {
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return errors.Wrap(err, "failed to encode the bench results")
	}
	return outfile.WriteFile(path, append(data, '\n'), 0o644)
}
