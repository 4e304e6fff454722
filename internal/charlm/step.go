package charlm

import (
	"math"
	"slices"
	"time"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
	. "github.com/gomlx/gomlx/support/exceptions"
	"github.com/pkg/errors"
)

// regularizationLossGraphParam is the graph parameter where GoMLX's
// train.AddRegularizationLoss accumulates regularization terms; the training step
// adds it to the cross-entropy, so layers written for GoMLX's trainer work here.
const regularizationLossGraphParam = "/trainer/trainer_regularization_loss"

// numFixedOutputs of the training graph: loss, main loss, gradient norm.
const numFixedOutputs = 3

// ensureOptimizer sets e.Optimizer to the run's optimizer (see newOptimizer) if it is unset.
func (e *Experiment) ensureOptimizer() {
	if e.Optimizer == nil {
		e.Optimizer = e.newOptimizer()
	}
}

// buildTrainExec creates the training step executor (compiled on the first
// call), or the data-parallel trainer of a worker.
func (e *Experiment) buildTrainExec() error {
	if e.trainExec != nil || (e.parallel != nil && e.parallel.trainer != nil) {
		return nil
	}
	var err error
	if err = TryCatch[error](e.ensureOptimizer); err != nil {
		return errors.WithMessage(err, "failed to create the optimizer")
	}
	if e.parallel != nil {
		return e.buildParallelTrainer()
	}
	e.trainExec, err = model.NewExec(e.Backend, e.Store, e.trainGraph)
	if err != nil {
		return errors.WithMessage(err, "failed to create the training step")
	}
	e.trainExec.WithName("charlm-train-step")
	return nil
}

// trainGraph builds one training step: it returns the loss, the cross-entropy,
// the global gradient norm and the StepOutputs.
func (e *Experiment) trainGraph(scope *model.Scope, tokens, targets *Node) []*Node {
	g := tokens.Graph()
	scope.Store().SetTraining(g, true)
	logits := e.Model.Logits(scope, tokens)
	mainLoss := ReduceAllMean(crossEntropy(logits, targets))
	loss := mainLoss
	if reg, found := model.GetGraphParam(g, regularizationLossGraphParam); found && reg != nil {
		if regNode, ok := reg.(*Node); ok {
			loss = Add(loss, ConvertDType(regNode, loss.DType()))
		}
	}
	e.Optimizer.UpdateGraph(scope, g, loss)
	gradNorm := ConstAs(loss, math.NaN())
	if norm, found := model.GetGraphParam(g, model.JoinPath(model.RootScopePath, gradNormGraphParam)); found {
		if n, ok := norm.(*Node); ok {
			gradNorm = ConvertDType(n, loss.DType())
		}
	}
	return append([]*Node{loss, mainLoss, gradNorm}, e.stepOutputNodes(scope, g, loss.DType())...)
}

// stepOutputNodes builds the StepOutputs in the training graph g, as scalars
// of the given dtype, and records their names.
func (e *Experiment) stepOutputNodes(scope *model.Scope, g *Graph, dtype dtypes.DType) []*Node {
	names := make([]string, 0, len(e.StepOutputs))
	outputs := make([]*Node, 0, len(e.StepOutputs))
	for _, fn := range e.StepOutputs {
		name, value := fn(scope, g)
		if !value.Shape().IsScalar() {
			Panicf("step output %q must be a scalar, got %s", name, value.Shape())
		}
		if slices.Contains(names, name) {
			Panicf("two step outputs are named %q", name)
		}
		names = append(names, name)
		outputs = append(outputs, ConvertDType(value, dtype))
	}
	e.outputNames = names
	return outputs
}

// step runs one training step on the next batch.
func (e *Experiment) step() (StepInfo, error) {
	if e.parallel != nil {
		return e.parallelStep()
	}
	start := time.Now()
	tokens, targets := e.Batches.Next()
	outputs, err := e.trainExec.Call(tokens, targets)
	if err != nil {
		return StepInfo{}, err
	}
	values := make([]float64, len(outputs))
	for i, t := range outputs {
		values[i] = shapes.ConvertTo[float64](t.Value())
		_ = t.FinalizeAll()
	}
	info := StepInfo{
		Step: e.globalStep + 1, Loss: values[0], MainLoss: values[1], GradNorm: values[2],
		Outputs: values[numFixedOutputs:], Duration: time.Since(start),
	}
	return info, e.finishStep(info)
}

// finishStep records the step's duration and checks its loss.
func (e *Experiment) finishStep(info StepInfo) error {
	e.stepTimes = append(e.stepTimes, info.Duration)
	if math.IsNaN(info.Loss) || math.IsInf(info.Loss, 0) {
		return errors.Errorf("the loss is %g: training diverged", info.Loss)
	}
	return nil
}

// evalGraph returns the summed cross-entropy of the masked windows [batch,
// block+1]. It runs the model in inference mode: layers that behave
// differently in training (ACT: a frozen threshold, no state updates) run as
// they would when the model is deployed.
func (e *Experiment) evalGraph(scope *model.Scope, windows, mask *Node) *Node {
	scope.Store().SetTraining(windows.Graph(), false)
	block := windows.Shape().Dim(1) - 1
	tokens := Slice(windows, AxisRange(), AxisRange(0, block))
	targets := Slice(windows, AxisRange(), AxisRange(1, block+1))
	perWindow := ReduceSum(crossEntropy(e.Model.Logits(scope, tokens), targets), -1) // [batch]
	return ReduceAllSum(Mul(perWindow, ConvertDType(mask, perWindow.DType())))
}

// ValidationLoss returns the mean cross-entropy, in nats per byte, over every
// target of every validation window (see Corpus.NumValWindows), or of the
// evenly spaced subset of Train.ValWindows windows if set (see valSubset):
// deterministic, the same windows for every run. The sums are accumulated in
// float64.
func (e *Experiment) ValidationLoss() (float64, error) {
	if e.evalExec == nil {
		var err error
		subset := valSubset(e.Corpus.NumValWindows(e.Config.Block), e.Train.ValWindows)
		e.valWindows, e.valMasks, err = e.Corpus.ValWindowsAt(e.Config.Block, e.Train.EvalBatch, subset)
		if err != nil {
			return 0, err
		}
		if e.evalExec, err = model.NewExec(e.Backend, e.Store, e.evalGraph); err != nil {
			return 0, errors.WithMessage(err, "failed to create the validation step")
		}
		e.evalExec.WithName("charlm-validation")
	}
	var sum float64
	for i, w := range e.valWindows {
		out, err := e.evalExec.Call(w, e.valMasks[i])
		if err != nil {
			return 0, errors.WithMessage(err, "validation step failed")
		}
		sum += shapes.ConvertTo[float64](out[0].Value())
		_ = out[0].FinalizeAll()
		e.heartbeat()
	}
	return sum / float64(e.NumValWindowsEvaluated()*e.Config.Block), nil
}
