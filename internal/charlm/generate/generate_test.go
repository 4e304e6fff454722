package generate

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/ggprior/ggprior/internal/charlm"
	"github.com/ggprior/ggprior/internal/testbackend"
	"github.com/stretchr/testify/require"
)

// TestDecodePathsAgree decodes 40 bytes (the window slides) from ACT
// checkpoints of both architectures: the dense and the sparse path give the
// same bytes, greedy and sampled with a seed; a batch of prompts of
// different lengths (one longer than the block) decodes to what each prompt
// decodes alone; a prompt longer than the block decodes as its last Block
// bytes; the sparse path saw zeros to skip.
func TestDecodePathsAgree(t *testing.T) {
	prompts := [][]byte{[]byte("Light "), []byte("the colours of the rays are sep"), []byte("a")}
	for _, arch := range []string{charlm.ArchGPT, charlm.ArchLlama} {
		t.Run(arch, func(t *testing.T) {
			_, e := load(t, arch, true)
			for _, opt := range []Options{{}, {Temperature: 0.8, TopK: 20, Seed: 7}, {Temperature: 1.5, Seed: 3}} {
				dense, err := e.GenerateBatch(prompts, 40, opt)
				require.NoError(t, err)
				opt.Sparse = true
				sparse, err := e.GenerateBatch(prompts, 40, opt)
				require.NoError(t, err)
				require.Equal(t, dense, sparse, "options %+v", opt)
				if opt.Temperature > 0 {
					continue // One generator for the batch: rows alone draw other numbers.
				}
				for i, p := range prompts {
					alone, err := e.Generate(p, 40, opt)
					require.NoError(t, err)
					require.Equal(t, dense[i], alone, "prompt %q alone", p)
				}
				t.Logf("%s greedy after %q: %q", arch, prompts[0], dense[0])
			}
			long, err := e.Generate(prompts[1], 20, Options{})
			require.NoError(t, err)
			cut, err := e.Generate(prompts[1][len(prompts[1])-e.Config.Block:], 20, Options{})
			require.NoError(t, err)
			require.Equal(t, cut, long)

			d, err := e.NewDecoder(len(prompts), true)
			require.NoError(t, err)
			require.NoError(t, d.Start(prompts))
			d.ResetStats()
			_, err = d.Decode(40, newSampler(Options{}))
			require.NoError(t, err)
			st := d.Stats()
			require.Len(t, st.SparsityBySite, 3*e.Config.Layers)
			for site, s := range st.SparsityBySite {
				require.Greater(t, s, 0.2, site)
			}
			require.Positive(t, st.SkippableMACs)
			require.Less(t, st.SkippableMACs, st.MACs)
		})
	}
}

// TestSamplerPick: greedy takes the largest logit (the lowest byte on a
// tie); top-k never picks outside the k largest; the same seed draws the
// same bytes; sampled frequencies follow softmax(logits/T) within 5
// standard errors; non-finite logits are an error.
func TestSamplerPick(t *testing.T) {
	logits := make([]float32, 256)
	logits[10], logits[20], logits[30] = 2, 2, 1
	b, err := newSampler(Options{}).Pick(logits)
	require.NoError(t, err)
	require.Equal(t, byte(10), b)

	smp := newSampler(Options{Temperature: 1, TopK: 3, Seed: 1})
	counts := map[byte]int{}
	const draws = 20000
	for range draws {
		b, err := smp.Pick(logits)
		require.NoError(t, err)
		counts[b]++
	}
	require.Len(t, counts, 3)
	e2, e1 := math.Exp(2), math.Exp(1)
	for tok, p := range map[byte]float64{10: e2 / (2*e2 + e1), 20: e2 / (2*e2 + e1), 30: e1 / (2*e2 + e1)} {
		se := math.Sqrt(p * (1 - p) / draws)
		require.InDelta(t, p, float64(counts[tok])/draws, 5*se, "byte %d", tok)
	}
	again := newSampler(Options{Temperature: 1, TopK: 3, Seed: 1})
	first := newSampler(Options{Temperature: 1, TopK: 3, Seed: 1})
	for range 100 {
		a, _ := again.Pick(logits)
		f, _ := first.Pick(logits)
		require.Equal(t, f, a)
	}
	logits[5] = float32(math.NaN())
	_, err = newSampler(Options{}).Pick(logits)
	require.ErrorContains(t, err, "logit of byte 5 is NaN")
}

// TestGenerateErrors: bad requests are errors before any decoding, each
// naming what is wrong.
func TestGenerateErrors(t *testing.T) {
	_, e := load(t, charlm.ArchGPT, false)
	for _, c := range []struct {
		prompts [][]byte
		n       int
		opt     Options
		want    string
	}{
		{[][]byte{[]byte("a")}, 0, Options{}, "number of bytes to generate 0: want > 0"},
		{[][]byte{[]byte("a")}, -3, Options{}, "number of bytes to generate -3"},
		{[][]byte{{}}, 5, Options{}, "empty prompt"},
		{[][]byte{[]byte("a"), nil}, 5, Options{}, "prompt 1 is empty"},
		{nil, 5, Options{}, "no prompt"},
		{[][]byte{[]byte("a")}, 5, Options{Temperature: -1}, "temperature -1"},
		{[][]byte{[]byte("a")}, 5, Options{Temperature: math.NaN()}, "temperature NaN"},
		{[][]byte{[]byte("a")}, 5, Options{Temperature: 1, TopK: -1}, "top-k -1"},
		{[][]byte{[]byte("a")}, 5, Options{TopK: 5}, "give a temperature > 0"},
		{[][]byte{[]byte("a")}, 5, Options{Sparse: true}, "has no ACT state"},
	} {
		out, err := e.GenerateBatch(c.prompts, c.n, c.opt)
		require.ErrorContains(t, err, c.want)
		require.Nil(t, out)
	}
	_, err := e.NewDecoder(0, false)
	require.ErrorContains(t, err, "at least 1 sequence")
	d, err := e.NewDecoder(2, false)
	require.NoError(t, err)
	require.ErrorContains(t, d.Append([]byte("ab")), "call Start first")
	require.ErrorContains(t, d.Start([][]byte{[]byte("a")}), "1 prompts for a decoder of 2")
}

// TestLoadErrors: a directory without a checkpoint, a checkpoint of another
// architecture or size, ACT sites without their thresholds, and a
// checkpoint without a charlm run state are errors that say so.
func TestLoadErrors(t *testing.T) {
	_, err := Load(t.TempDir())
	require.ErrorContains(t, err, "no checkpoint in")
	_, err = Load(filepath.Join(t.TempDir(), "missing"))
	require.ErrorContains(t, err, "no checkpoint directory")

	dir := trained(t, charlm.ArchGPT, false)
	ckpt, err := charlm.LoadInferenceCheckpoint(dir)
	require.NoError(t, err)
	other := *ckpt
	other.Config.Arch = charlm.ArchLlama
	_, err = New(&other)
	require.ErrorContains(t, err, `has no variable "/block_000/norm1/gain": not a checkpoint of a llama`)
	other = *ckpt
	other.Config.Width = 64
	_, err = New(&other)
	require.ErrorContains(t, err, `variable "/token_embed/embeddings" is (Float32)[256, 32], a gpt L1 H2 d64`)
	other = *ckpt
	other.Config.Layers = 2
	_, err = New(&other)
	require.ErrorContains(t, err, `no variable "/block_001/ln1/gain"`)
	other = *ckpt
	other.ACTSites = []string{charlm.SiteMLPHidden}
	_, err = New(&other)
	require.ErrorContains(t, err, `ACT at mlp_hidden: checkpoint`)
	require.ErrorContains(t, err, `no variable "/block_000/mlp/mlp_hidden/act/threshold"`)

	// The same checkpoint without its run state (as another program would write it).
	bare := t.TempDir()
	base, err := charlm.LatestCheckpoint(dir)
	require.NoError(t, err)
	meta, err := os.ReadFile(filepath.Join(dir, base+".json"))
	require.NoError(t, err)
	var decoded map[string]any
	require.NoError(t, json.Unmarshal(meta, &decoded))
	var params []any
	for _, p := range decoded["Params"].([]any) {
		if p.(map[string]any)["Key"] != "charlm_run_state" {
			params = append(params, p)
		}
	}
	decoded["Params"] = params
	meta, err = json.Marshal(decoded)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(bare, base+".json"), meta, 0o644))
	bin, err := os.ReadFile(filepath.Join(dir, base+".bin"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(bare, base+".bin"), bin, 0o644))
	_, err = Load(bare)
	require.ErrorContains(t, err, "not a checkpoint of a charlm run")
}

// TestBench runs Bench on an ACT checkpoint with 2 prompts and the graph:
// both paths decode the same bytes, the speeds and sparsities are filled
// in, and the JSON has the fields the command's users read.
func TestBench(t *testing.T) {
	ckpt, e := load(t, charlm.ArchGPT, true)
	g, err := NewGraphForward(ckpt, testbackend.Get(t))
	require.NoError(t, err)
	defer g.Close()
	r, err := Bench(e, [][]byte{[]byte("Light is"), []byte("the rays")}, 24, BenchOptions{Repeats: 2, Graph: g, GraphTokens: 8})
	require.NoError(t, err)
	require.True(t, r.SameTokens)
	require.Equal(t, 2, r.Batch)
	require.Len(t, r.SecondsDense, 2)
	require.Positive(t, r.TokensPerSecDense)
	require.Positive(t, r.TokensPerSecSparse)
	require.InDelta(t, r.TokensPerSecSparse/r.TokensPerSecDense, r.Speedup, 1e-12)
	require.Len(t, r.SparsityBySite, 3)
	require.Len(t, r.ThresholdBySite, 3)
	require.Greater(t, r.SkippableMACs, 0.0)
	require.Equal(t, 8, r.GraphTokens)
	require.NotNil(t, r.GraphSameTokens)
	require.Positive(t, r.DenseVsGraph)
	t.Logf("dense %.0f tok/s, sparse %.0f tok/s, graph %.0f tok/s, graph same bytes %v",
		r.TokensPerSecDense, r.TokensPerSecSparse, r.GraphTokensPerSec, *r.GraphSameTokens)

	path := filepath.Join(t.TempDir(), "bench.json")
	require.NoError(t, r.WriteJSON(path))
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	var fields map[string]any
	require.NoError(t, json.Unmarshal(data, &fields))
	for _, key := range []string{"decode_tokens_per_sec_dense", "decode_tokens_per_sec_sparse", "decode_speedup",
		"decode_same_tokens", "decode_batch", "decode_sparsity_by_site", "decode_dense_vs_graph"} {
		require.Contains(t, fields, key)
	}
	require.ErrorContains(t, r.WriteJSON(filepath.Join(t.TempDir(), "missing", "b.json")), "no such file or directory")

	_, err = Bench(e, [][]byte{[]byte("a")}, 0, BenchOptions{})
	require.ErrorContains(t, err, "want > 0")
}
