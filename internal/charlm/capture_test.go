package charlm

import (
	"math"
	"slices"
	"sync"
	"testing"

	"github.com/ggprior/ggprior/internal/tensorkind"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/stretchr/testify/require"
)

// recordingSink keeps a copy of every tensor observed, in order.
type recordingSink struct {
	mu     sync.Mutex
	order  []string               // "kind name" in first-observed order.
	values map[string][][]float64 // "kind name" -> one copy per observation.
}

func (s *recordingSink) Observe(kind, name string, values []float64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.values == nil {
		s.values = map[string][][]float64{}
	}
	key := kind + " " + name
	if _, ok := s.values[key]; !ok {
		s.order = append(s.order, key)
	}
	s.values[key] = append(s.values[key], slices.Clone(values))
	return nil
}

// names returns the names observed of one kind, in order.
func (s *recordingSink) names(kind string) []string {
	var out []string
	for _, key := range s.order {
		if name, ok := cutPrefix(key, kind+" "); ok {
			out = append(out, name)
		}
	}
	return out
}

func cutPrefix(s, prefix string) (string, bool) {
	if len(s) >= len(prefix) && s[:len(prefix)] == prefix {
		return s[len(prefix):], true
	}
	return "", false
}

// tinyCaptureConfig captures everything from the tiny gpt on a repeated sentence.
func tinyCaptureConfig(t *testing.T, steps int) CaptureConfig {
	tc := DefaultTrainConfig()
	tc.Steps, tc.Data, tc.LogEvery, tc.EvalBatch = steps, tinyCorpusFile(t, pangram, 40), 1, 8
	return CaptureConfig{Model: tinyConfig(ArchGPT), Train: tc, Kinds: tensorkind.All, Backend: backend(t)}
}

// TestCapture captures weights, activations and gradients of the tiny gpt
// every 3 steps of a 6-step run, and checks what was sent: every trainable
// variable and its gradient, every activation site the model's ActivationFn
// sees, at steps 3 and 6; GELU outputs above GELU's minimum; gradients of the
// head whose rows sum to zero (the logits' gradient sums to zero over the
// vocabulary); and a training run identical to one without capture.
func TestCapture(t *testing.T) {
	cfg := tinyCaptureConfig(t, 6)
	cfg.Every = 3
	sink := &recordingSink{}
	summary, err := Capture(cfg, sink)
	require.NoError(t, err)
	t.Logf("summary: %s", summary)
	require.Equal(t, []int{3, 6}, summary.Steps)

	// The same run without capture: same training losses, same weights.
	plain, err := NewExperiment(backend(t), cfg.Model, cfg.Train)
	require.NoError(t, err)
	plain.Train.EvalAt = nil
	require.NoError(t, plain.TrainTo(5)) // Step 6 would validate.
	var sites []string
	plain.Model.Activation = func(scope *model.Scope, site string, x *graph.Node) *graph.Node {
		sites = append(sites, model.JoinPath(scope.Scope(), site))
		return x
	}
	plain.OnStep = append(plain.OnStep, func(exp *Experiment, info StepInfo) error {
		require.Equal(t, info.MainLoss, summary.FinalLoss, "capturing does not change the training")
		return nil
	})
	require.NoError(t, plain.TrainTo(6))

	var weights []string
	for v := range plain.Store.IterVariables() {
		if v.Trainable {
			weights = append(weights, v.Path())
			got := sink.values[tensorkind.Weights+" "+v.Path()]
			require.Len(t, got, 2, v.Path())
			want := flatFloat32(t, v.MustValue())
			require.Len(t, got[1], len(want))
			for i := range want {
				require.Equal(t, float64(want[i]), got[1][i], "%s[%d] at the last step", v.Path(), i)
			}
		}
	}
	require.Equal(t, weights, sink.names(tensorkind.Weights))
	require.ElementsMatch(t, weights, sink.names(tensorkind.Gradients))
	require.Equal(t, sites, sink.names(tensorkind.Activations), "every site of the forward pass, in order")
	require.Contains(t, sites, "/block_000/mlp/mlp_hidden")
	require.Equal(t, map[string]int{tensorkind.Weights: len(weights), tensorkind.Activations: len(sites), tensorkind.Gradients: len(weights)}, summary.Tensors)

	hidden := sink.values[tensorkind.Activations+" /block_000/mlp/mlp_hidden"]
	require.Len(t, hidden, 2)
	require.Len(t, hidden[0], cfg.Train.Batch*cfg.Model.Block*cfg.Model.Hidden())
	require.GreaterOrEqual(t, slices.Min(hidden[1]), -0.1701, "GELU's minimum is -0.16997")

	head := sink.values[tensorkind.Gradients+" /head/weights"]
	require.Len(t, head, 2)
	vocab := cfg.Model.Vocab
	var norm float64
	for row := 0; row < cfg.Model.Width; row++ {
		var sum, abs float64
		for _, g := range head[1][row*vocab : (row+1)*vocab] {
			sum += g
			abs += math.Abs(g)
			norm += g * g
		}
		require.InDelta(t, 0, sum, 1e-6+1e-4*abs, "row %d of the head's gradient", row)
	}
	require.Greater(t, norm, 0.0)
}

// TestCaptureFromCheckpoint trains the tiny gpt 4 steps with a checkpoint, then
// captures from it: the architecture comes from the checkpoint, the model
// weights are the checkpoint's (LoadModelWeights), and after one step (learning
// rate 1e-5 in warmup) they are still within 1e-4 of them.
func TestCaptureFromCheckpoint(t *testing.T) {
	cfg := tinyCaptureConfig(t, 1)
	dir := t.TempDir()
	trained := tinyExperiment(t, ArchGPT, cfg.Train.Data, 4, nil, dir)
	require.NoError(t, trained.TrainTo(4))

	fresh, err := NewExperiment(backend(t), tinyConfig(ArchGPT), cfg.Train)
	require.NoError(t, err)
	name, err := fresh.LoadModelWeights(dir)
	require.NoError(t, err)
	require.Contains(t, name, "step-00000004")
	n := 0
	for v := range trained.Store.IterVariables() {
		if v.Trainable {
			require.Equal(t, flatFloat32(t, v.MustValue()), flatFloat32(t, fresh.Store.GetVariable(v.Path()).MustValue()), v.Path())
			n++
		}
	}
	require.Equal(t, 0, fresh.GlobalStep())

	cfg.Model, cfg.Kinds, cfg.FromCheckpoint = Config{}, []string{tensorkind.Weights}, dir
	sink := &recordingSink{}
	summary, err := Capture(cfg, sink)
	require.NoError(t, err)
	t.Logf("summary: %s", summary)
	require.Equal(t, tinyConfig(ArchGPT), summary.Model, "the checkpoint's architecture")
	require.Contains(t, summary.Checkpoint, name)
	require.Len(t, sink.names(tensorkind.Weights), n)
	for v := range trained.Store.IterVariables() {
		if v.Trainable {
			want := flatFloat32(t, v.MustValue())
			got := sink.values[tensorkind.Weights+" "+v.Path()][0]
			for i := range want {
				require.InDelta(t, float64(want[i]), got[i], 1e-4, "%s[%d]", v.Path(), i)
			}
		}
	}

	// A checkpoint of another architecture does not load.
	cfg.Model = tinyConfig(ArchLlama)
	_, err = Capture(cfg, sink)
	require.ErrorContains(t, err, "not a checkpoint of this model")
	_, err = Capture(CaptureConfig{Train: cfg.Train, Kinds: cfg.Kinds, FromCheckpoint: t.TempDir()}, sink)
	require.ErrorContains(t, err, "no checkpoint in")
}

// TestCaptureLlama captures from the tiny llama: its activation sites and a
// gradient for every weight.
func TestCaptureLlama(t *testing.T) {
	cfg := tinyCaptureConfig(t, 2)
	cfg.Model = tinyConfig(ArchLlama)
	sink := &recordingSink{}
	summary, err := Capture(cfg, sink)
	require.NoError(t, err)
	t.Logf("summary: %s", summary)
	require.Equal(t, []int{2}, summary.Steps)
	require.Contains(t, sink.names(tensorkind.Activations), "/block_000/mlp/mlp_hidden")
	require.ElementsMatch(t, sink.names(tensorkind.Weights), sink.names(tensorkind.Gradients))
	require.Len(t, sink.values[tensorkind.Gradients+" /block_000/mlp/gate/weights"][0], cfg.Model.Width*cfg.Model.Hidden())
}

// TestCaptureNowBeforeTraining captures the initial weights of a fresh
// experiment, whose variables do not exist yet: they are the initialization
// (normal02: the embedding's std is 0.02).
func TestCaptureNowBeforeTraining(t *testing.T) {
	cfg := tinyCaptureConfig(t, 2)
	exp, err := NewExperiment(backend(t), cfg.Model, cfg.Train)
	require.NoError(t, err)
	sink := &recordingSink{}
	c, err := newCapturer(exp, []string{tensorkind.Weights, tensorkind.Gradients}, sink)
	require.NoError(t, err)
	require.NoError(t, c.CaptureNow())
	require.Equal(t, []int{0}, c.Steps())
	embed := sink.values[tensorkind.Weights+" /token_embed/embeddings"]
	require.Len(t, embed, 1)
	values := make([]float32, len(embed[0]))
	for i, x := range embed[0] {
		values[i] = float32(x)
	}
	_, std := meanStd(values)
	require.InDelta(t, baselineStdDev, std, 0.002)
	require.ElementsMatch(t, sink.names(tensorkind.Weights), sink.names(tensorkind.Gradients))

	_, err = newCapturer(exp, []string{"biases"}, sink)
	require.ErrorContains(t, err, `unknown capture kind "biases"`)
	_, err = newCapturer(exp, nil, sink)
	require.ErrorContains(t, err, "nothing to capture")
}
