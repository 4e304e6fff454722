package gomlxckpt

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/dtypes/bfloat16"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/model/checkpoint"
	"github.com/gomlx/gomlx/ml/train/optimizer"
	"github.com/stretchr/testify/require"
)

// matrix returns a rows x cols matrix of normal values converted by conv.
func matrix[T any](rows, cols int, seed uint64, conv func(float64) T) [][]T {
	r := rand.New(rand.NewPCG(seed, 1))
	m := make([][]T, rows)
	for i := range m {
		m[i] = make([]T, cols)
		for j := range m[i] {
			m[i][j] = conv(0.1 * r.NormFloat64())
		}
	}
	return m
}

// saveTinyStore creates a small Store with weights of three float dtypes,
// optimizer state and a counter, and saves it to dir with GoMLX's checkpoint
// package in the given binary format.
func saveTinyStore(t *testing.T, dir string, format checkpoint.BinFormat) *model.Store {
	store := model.NewStore()
	store.SetParam("learning_rate", 0.01)
	store.Scope("/block_000/attn/qkv").VariableWithValue("weights", matrix(16, 12, 1, func(x float64) float32 { return float32(x) }))
	store.Scope("/block_000/mlp/in").VariableWithValue("weights", matrix(8, 4, 2, func(x float64) float64 { return x }))
	store.Scope("/token_embed").VariableWithValue("embeddings", matrix(5, 4, 3, bfloat16.FromFloat64))
	store.Scope("/AdamOptimizer/block_000/attn/qkv").VariableWithValue("weights_1st_moment", matrix(16, 12, 4, func(x float64) float32 { return float32(x) })).SetTrainable(false)
	store.Scope("/token_embed").VariableWithValue("ids", []int32{1, 2, 3})
	optimizer.GetGlobalStepVar(store).MustSetValue(tensors.FromValue(int64(42)))
	h, err := checkpoint.Build(store).Dir(dir).WithCompression(format).Done()
	require.NoError(t, err)
	require.NoError(t, h.Save())
	return store
}

func TestOpen(t *testing.T) {
	for _, format := range []checkpoint.BinFormat{checkpoint.BinGZIP, checkpoint.BinUncompressed} {
		t.Run(format.String(), func(t *testing.T) {
			dir := t.TempDir()
			saved := saveTinyStore(t, dir, format)

			c, err := Open(dir)
			require.NoError(t, err)
			var paths []string
			for _, v := range c.Variables {
				paths = append(paths, v.Path)
			}
			require.Equal(t, []string{
				"/AdamOptimizer/block_000/attn/qkv/weights_1st_moment",
				"/block_000/attn/qkv/weights",
				"/block_000/mlp/in/weights",
				"/global_step",
				"/token_embed/embeddings",
				"/token_embed/ids",
			}, paths)
			var weights []string
			for _, v := range c.Weights() {
				weights = append(weights, v.Path)
			}
			require.Equal(t, []string{"/block_000/attn/qkv/weights", "/block_000/mlp/in/weights", "/token_embed/embeddings"}, weights)

			qkv := c.Weights()[0]
			require.Equal(t, dtypes.Float32, qkv.DType)
			require.Equal(t, []int{16, 12}, qkv.Shape)
			require.Equal(t, 192, qkv.Size)

			// Values match the saved ones, for each float dtype.
			for _, path := range weights {
				got, err := c.Values(path)
				require.NoError(t, err)
				want := saved.GetVariable(path).MustValue()
				require.Equal(t, want.Size(), len(got))
				var wantF []float64
				require.NoError(t, want.ConstFlatData(func(flat any) {
					switch xs := flat.(type) {
					case []float32:
						for _, x := range xs {
							wantF = append(wantF, float64(x))
						}
					case []float64:
						wantF = append(wantF, xs...)
					case []bfloat16.BFloat16:
						for _, x := range xs {
							wantF = append(wantF, x.Float64())
						}
					}
				}))
				require.Equal(t, wantF, got, path)
			}
			_, err = c.Values("/token_embed/ids")
			require.ErrorContains(t, err, "not a float variable")
			_, err = c.Values("/nope")
			require.ErrorContains(t, err, `no variable "/nope"`)
			require.NotNil(t, c.Store())
		})
	}
}

func TestIsOptimizerState(t *testing.T) {
	for path, want := range map[string]bool{
		"/AdamOptimizer/dense/weights_1st_moment": true,
		"/optimizers/cosine/lr":                   true,
		"/dense/weights_2nd_moment":               true,
		"/global_step":                            true,
		"/AdamOptimizer/step":                     true,
		"/#rngState":                              true,
		"/dense/weights":                          false,
		"/block_000/attn/qkv/weights":             false,
		"/optimizer_free/weights":                 false,
		"/steps/weights":                          false,
		"/gct/_head_weights/residual":             true,
		"/gct/bits_per_element":                   true,
		"/block_000/mlp/mlp_hidden/act/threshold": true,
		"/gctx/weights":                           false,
		"/act/weights/kernel":                     false,
	} {
		require.Equal(t, want, isOptimizerState(path), path)
	}
}

func TestOpenErrors(t *testing.T) {
	_, err := Open(filepath.Join(t.TempDir(), "missing"))
	require.ErrorContains(t, err, "checkpoint directory")

	file := filepath.Join(t.TempDir(), "file")
	require.NoError(t, os.WriteFile(file, []byte("x"), 0o644))
	_, err = Open(file)
	require.ErrorContains(t, err, "not a directory")

	_, err = Open(t.TempDir())
	require.ErrorContains(t, err, "no checkpoints found")

	// Corrupt JSON, and a truncated data file.
	dir := t.TempDir()
	saveTinyStore(t, dir, checkpoint.BinUncompressed)
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var jsonPath, binPath string
	for _, e := range entries {
		switch {
		case strings.HasSuffix(e.Name(), ".json"):
			jsonPath = filepath.Join(dir, e.Name())
		case strings.HasSuffix(e.Name(), ".bin"):
			binPath = filepath.Join(dir, e.Name())
		}
	}
	bin, err := os.ReadFile(binPath)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(binPath, bin[:len(bin)/2], 0o644))
	require.NotPanics(t, func() {
		_, err = Open(dir)
	})
	require.ErrorContains(t, err, "loading checkpoint")

	require.NoError(t, os.WriteFile(jsonPath, []byte(`{"Variables": [`), 0o644))
	require.NotPanics(t, func() {
		_, err = Open(dir)
	})
	require.ErrorContains(t, err, "loading checkpoint")
}

// checkpointBase returns the base name of the one checkpoint in dir.
func checkpointBase(t *testing.T, dir string) string {
	t.Helper()
	matches, err := filepath.Glob(filepath.Join(dir, "checkpoint-*.json"))
	require.NoError(t, err)
	require.Len(t, matches, 1)
	return strings.TrimSuffix(filepath.Base(matches[0]), ".json")
}

// writeManifest writes the SHA-256 sums of the checkpoint base's files next
// to them, as the charlm experiment does (sha256sum's format).
func writeManifest(t *testing.T, dir, base string) {
	t.Helper()
	var text string
	for _, ext := range []string{".bin", ".json"} {
		data, err := os.ReadFile(filepath.Join(dir, base+ext))
		require.NoError(t, err)
		text += fmt.Sprintf("%x  %s\n", sha256.Sum256(data), base+ext)
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, base+".sha256"), []byte(text), 0o644))
}

// TestOpenCorrupt: a data file that no longer matches its checksum, or that
// was cut short, is an error that names it, in both binary formats.
func TestOpenCorrupt(t *testing.T) {
	for _, format := range []checkpoint.BinFormat{checkpoint.BinGZIP, checkpoint.BinUncompressed} {
		t.Run(format.String(), func(t *testing.T) {
			dir := t.TempDir()
			saveTinyStore(t, dir, format)
			base := checkpointBase(t, dir)
			c, err := Open(dir)
			require.NoError(t, err)
			require.False(t, c.Checksummed, "GoMLX writes no manifest")
			writeManifest(t, dir, base)
			c, err = Open(dir)
			require.NoError(t, err)
			require.True(t, c.Checksummed)

			binPath := filepath.Join(dir, base+".bin")
			bin, err := os.ReadFile(binPath)
			require.NoError(t, err)
			flipped := bytes.Clone(bin)
			flipped[len(flipped)-5] ^= 0x40
			require.NoError(t, os.WriteFile(binPath, flipped, 0o644))
			_, err = Open(dir)
			require.ErrorContains(t, err, binPath)
			require.ErrorContains(t, err, "SHA-256")

			// Cut short, without checksums: the variables' entries do not fit.
			require.NoError(t, os.Remove(filepath.Join(dir, base+".sha256")))
			require.NoError(t, os.WriteFile(binPath, bin[:len(bin)*3/4], 0o644))
			_, err = Open(dir)
			require.ErrorContains(t, err, binPath)
		})
	}
}

// TestOpenHugeShape: metadata that claims a shape far larger than the data
// is an error naming the variable and both sizes, not an allocation that
// kills the process.
func TestOpenHugeShape(t *testing.T) {
	for _, format := range []checkpoint.BinFormat{checkpoint.BinGZIP, checkpoint.BinUncompressed} {
		t.Run(format.String(), func(t *testing.T) {
			dir := t.TempDir()
			saveTinyStore(t, dir, format)
			base := checkpointBase(t, dir)
			jsonPath := filepath.Join(dir, base+".json")
			data, err := os.ReadFile(jsonPath)
			require.NoError(t, err)
			var meta map[string]any
			require.NoError(t, json.Unmarshal(data, &meta))
			const name = "var:/block_000/attn/qkv/weights"
			found := false
			for _, v := range meta["Variables"].([]any) {
				if v := v.(map[string]any); v["ParameterName"] == name {
					v["Dimensions"] = []int{1 << 20, 1 << 20} // 2^40 float32 values: 4 TiB.
					found = true
				}
			}
			require.True(t, found)
			data, err = json.Marshal(meta)
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(jsonPath, data, 0o644))

			_, err = Open(dir)
			require.ErrorContains(t, err, "/block_000/attn/qkv/weights")
			require.ErrorContains(t, err, "4398046511104 bytes")
			// The data (decompressed, for gzip) holds the variables' 1852 bytes:
			// 2*16*12*4 (qkv and its moment) + 8*4*8 + 5*4*2 + 3*4 (ids) + 8 (step).
			require.ErrorContains(t, err, "1852 bytes")
		})
	}
}
