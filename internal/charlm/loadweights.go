package charlm

import (
	"encoding/json"
	"os"

	"github.com/ggprior/ggprior/internal/storevars"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/support/exceptions"
	"github.com/pkg/errors"
)

// LatestCheckpoint returns the base name of the latest checkpoint in dir, or an
// error if dir holds none.
func LatestCheckpoint(dir string) (string, error) {
	names, err := ListCheckpoints(dir)
	if err != nil {
		return "", err
	}
	if len(names) == 0 {
		if _, statErr := os.Stat(dir); statErr != nil {
			return "", errors.Wrapf(statErr, "no checkpoint directory")
		}
		return "", errors.Errorf("no checkpoint in %s", dir)
	}
	return names[len(names)-1], nil
}

// checkpointRunState returns the run state saved in the checkpoint base of dir
// (see RunState), read from its metadata once the checkpoint is checked
// (checkCheckpoint). found is false for a checkpoint without one (not written
// by an Experiment).
func checkpointRunState(dir, base string) (state RunState, found bool, err error) {
	meta, _, err := checkCheckpoint(dir, base)
	if err != nil {
		return RunState{}, false, err
	}
	for _, p := range meta.Params {
		if p.Key != paramRunState || p.Scope != model.RootScopePath {
			continue
		}
		encoded, ok := p.Value.(string)
		if !ok {
			return RunState{}, false, errors.Errorf("checkpoint %s: %s is a %T, not a string", base, paramRunState, p.Value)
		}
		if err := json.Unmarshal([]byte(encoded), &state); err != nil {
			return RunState{}, false, errors.Wrapf(err, "checkpoint %s: failed to decode the run state", base)
		}
		return state, true, nil
	}
	return RunState{}, false, nil
}

// LoadModelWeights replaces the values of the model's variables (every
// trainable variable the model's forward pass uses: weights, embeddings,
// biases, normalization parameters) with those of the latest checkpoint in
// dir, and returns the checkpoint's base name. Nothing else is loaded: the
// optimizer state, the step counter, the data and the run state stay those of
// this run, so training starts afresh from trained weights. Call it before the
// first training step.
//
// Every model variable must be in the checkpoint with the same shape; the
// checkpoint's other variables are ignored. The model's variables are created
// (and initialized, then overwritten) first if they do not exist yet.
func (e *Experiment) LoadModelWeights(dir string) (string, error) {
	base, err := LatestCheckpoint(dir)
	if err != nil {
		return "", err
	}
	saved := model.NewStore()
	if err := loadCheckpoint(saved, dir, base); err != nil {
		return "", err
	}
	vars, err := e.modelVariables()
	if err != nil {
		return "", err
	}
	for _, v := range vars {
		src := saved.GetVariable(v.Path())
		if src == nil {
			return "", errors.Errorf("checkpoint %s in %s has no variable %q: not a checkpoint of this model (%s)", base, dir, v.Path(), e.Config)
		}
		value, err := src.Value()
		if err != nil {
			return "", errors.WithMessagef(err, "checkpoint %s: variable %q", base, v.Path())
		}
		if !value.Shape().Equal(v.Shape()) {
			return "", errors.Errorf("checkpoint %s: variable %q has shape %s, the model (%s) wants %s",
				base, v.Path(), value.Shape(), e.Config, v.Shape())
		}
		if value, err = value.Clone(); err != nil { // Owned by v alone.
			return "", errors.WithMessagef(err, "checkpoint %s: variable %q", base, v.Path())
		}
		if err := v.SetValue(value); err != nil {
			return "", errors.WithMessagef(err, "failed to set variable %q", v.Path())
		}
	}
	return base, nil
}

// modelVariables returns the trainable variables that the model's forward pass
// uses, creating and initializing them if needed (by running the model once
// on a single token).
func (e *Experiment) modelVariables() ([]*model.Variable, error) {
	var vars []*model.Variable
	exec, err := model.NewExec(e.Backend, e.Store, func(scope *model.Scope, tokens *Node) *Node {
		logits := e.Model.Logits(scope, tokens)
		vars = storevars.Trainable(scope, tokens.Graph())
		return ReduceAllSum(logits)
	})
	if err != nil {
		return nil, errors.WithMessage(err, "failed to create the model's variables")
	}
	defer exec.Finalize()
	err = exceptions.TryCatch[error](func() {
		out, err := exec.Call(tensors.FromFlatDataAndDimensions([]int32{0}, 1, 1))
		if err != nil {
			panic(err)
		}
		for _, t := range out {
			_ = t.FinalizeAll()
		}
	})
	if err != nil {
		return nil, errors.WithMessage(err, "failed to create the model's variables")
	}
	return vars, nil
}
