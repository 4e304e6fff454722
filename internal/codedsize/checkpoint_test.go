package codedsize

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/ggprior/ggprior/internal/charlm"
	"github.com/ggprior/ggprior/internal/gomlxckpt"
	"github.com/ggprior/ggprior/internal/testbackend"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/model/checkpoint"
	"github.com/stretchr/testify/require"
)

// TestCheckpointOfCharlm trains a tiny charlm for two steps with GCT and ACT
// (whose state lives in the Store next to the weights) and checks that the
// checkpoint's report covers exactly the trainable variables of the run, with
// the same sizes as the live Store's report.
func TestCheckpointOfCharlm(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "corpus.txt")
	require.NoError(t, os.WriteFile(data, []byte(strings.Repeat("the quick brown fox jumps over the lazy dog. ", 40)), 0o644))
	cfg := charlm.DefaultConfig()
	cfg.Layers, cfg.Heads, cfg.Width, cfg.Block = 1, 2, 32, 16
	tc := charlm.DefaultTrainConfig()
	tc.Steps, tc.EvalAt, tc.EvalBatch, tc.Data, tc.Checkpoint = 2, nil, 8, data, filepath.Join(dir, "ckpt")
	tc.Compress, tc.ACTSites = "gct", []string{"mlp_hidden"}
	exp, err := charlm.NewExperiment(testbackend.Get(t), cfg, tc)
	require.NoError(t, err)
	_, err = exp.Run()
	require.NoError(t, err)

	fromCkpt, err := Checkpoint(tc.Checkpoint)
	require.NoError(t, err)
	fromStore, err := FromStore(exp.Store)
	require.NoError(t, err)
	var trainable []string
	for v := range exp.Store.IterVariables() {
		if v.Trainable {
			trainable = append(trainable, v.Path())
		}
	}
	require.Len(t, fromCkpt.Tensors, len(trainable))
	require.Equal(t, fromStore.Tensors, fromCkpt.Tensors, "the checkpoint's weights are the run's trainable variables")
	require.Equal(t, fromStore.CodedBytes, fromCkpt.CodedBytes)
	require.Equal(t, cfg.NumParams(), fromCkpt.Params)
	require.Equal(t, int64(4*fromCkpt.Params), fromCkpt.FP32Bytes)
	require.Less(t, fromCkpt.BitsPerWeight, 8.0)
	require.Greater(t, fromCkpt.RatioVsFP32, 4.0)

	// The checkpoint holds GCT and ACT state, which is not counted as weights.
	c, err := gomlxckpt.Open(tc.Checkpoint)
	require.NoError(t, err)
	var state []string
	for _, v := range c.Variables {
		if v.DType.IsFloat() && !v.IsWeight() && !strings.HasSuffix(v.Path, "moment") {
			state = append(state, v.Path)
		}
	}
	require.Contains(t, state, "/gct/_head_weights/residual")
	require.Contains(t, state, "/block_000/mlp/mlp_hidden/act/threshold")

	var table bytes.Buffer
	require.NoError(t, fromCkpt.WriteTable(&table))
	t.Logf("\n%s", table.String())
	require.Contains(t, table.String(), "/block_000/attn/qkv/weights ")
	require.Regexp(t, `(?m)^total\s+`+strconv.Itoa(fromCkpt.Params)+`\s`, table.String())
	require.Contains(t, table.String(), "smaller than fp32")
}

// TestCheckpointWritten checks a checkpoint written directly: float64 and
// bfloat16 weights are coded, Adam's moments, counters and integer variables are
// not; a missing directory and a checkpoint without weights are errors.
func TestCheckpointWritten(t *testing.T) {
	dir := t.TempDir()
	store := model.NewStore()
	w := ggWeights(600, 0.1, 1, 4)
	w64 := make([][]float64, 20)
	for i := range w64 {
		w64[i] = make([]float64, 30)
		for j := range w64[i] {
			w64[i][j] = float64(w[30*i+j])
		}
	}
	store.Scope("/dense").VariableWithValue("weights", w64)
	store.Scope("/dense").VariableWithValue("biases", []float32{0.5, -0.25, 0})
	store.Scope("/AdamOptimizer/dense").VariableWithValue("weights_1st_moment", w64).SetTrainable(false)
	store.Scope("/dense").VariableWithValue("ids", []int32{1, 2, 3})
	h, err := checkpoint.Build(store).Dir(dir).Done()
	require.NoError(t, err)
	require.NoError(t, h.Save())

	r, err := Checkpoint(dir)
	require.NoError(t, err)
	require.Len(t, r.Tensors, 2)
	require.Equal(t, "/dense/biases", r.Tensors[0].Name)
	require.Equal(t, "/dense/weights", r.Tensors[1].Name)
	require.Equal(t, []int{20, 30}, r.Tensors[1].Shape)
	want, err := tensor(w)
	require.NoError(t, err)
	require.Equal(t, want, r.Tensors[1].Result)
	require.Equal(t, 603, r.Params)
	require.Contains(t, r.Source, dir)

	_, err = Checkpoint(filepath.Join(dir, "missing"))
	require.ErrorContains(t, err, "checkpoint directory")

	empty := t.TempDir()
	store = model.NewStore()
	store.Scope("/AdamOptimizer").VariableWithValue("weights_2nd_moment", []float32{1})
	h, err = checkpoint.Build(store).Dir(empty).Done()
	require.NoError(t, err)
	require.NoError(t, h.Save())
	_, err = Checkpoint(empty)
	require.ErrorContains(t, err, "no weight tensors")
}
