package charlm

import (
	"encoding/json"
	"slices"
	"strings"

	"github.com/gomlx/gomlx/ml/model"
	"github.com/pkg/errors"
)

// RunState is what an Experiment keeps, besides the variables, to resume a run
// bit for bit and to report its whole history after a resume. It is stored as
// JSON in the paramRunState hyperparameter, so every checkpoint carries it.
type RunState struct {
	// Identity of the run: a checkpoint only resumes a run with the same identity.
	Identity RunIdentity `json:"identity"`

	// Batches is the training batch generator's state.
	Batches BatchesState `json:"batches"`

	// NonTrainable lists the variables (full paths) that are not trainable: the
	// checkpoint format does not record it.
	NonTrainable []string `json:"non_trainable"`

	// History of the run so far.
	History History `json:"history"`
}

// RunIdentity holds what must not change when a run resumes.
type RunIdentity struct {
	Model      Config `json:"model"`
	Steps      int    `json:"steps"`
	Batch      int    `json:"batch"`
	Seed       int64  `json:"seed"`
	Init       string `json:"init"`
	Beta       string `json:"beta,omitempty"`
	CorpusSize int    `json:"corpus_size"`
	CorpusHash uint64 `json:"corpus_hash"`
	// Compress, ACTSites (comma-separated) and Workers decide which state
	// variables the run has; empty (and 0) for plain AdamW, no ACT, one worker.
	Compress string `json:"compress,omitempty"`
	ACTSites string `json:"act_sites,omitempty"`
	Workers  int    `json:"workers,omitempty"`
}

// History is the record of a run: validation losses and training curves.
type History struct {
	// ValLoss maps a step to the validation loss after it.
	ValLoss map[int]float64 `json:"val_loss"`
	// LossCurve holds [step, training batch loss] every LogEvery steps.
	LossCurve [][2]float64 `json:"loss_curve"`
	// Outputs holds [step, value] every LogEvery steps for each extra step output.
	Outputs map[string][][2]float64 `json:"outputs,omitempty"`
	// Gradient accumulates GCT's metrics (runs with Compress).
	Gradient *GradientTotals `json:"gradient,omitempty"`
	// Exchange accumulates the payload sizes of a data-parallel run.
	Exchange *ExchangeTotals `json:"exchange,omitempty"`
}

// identity returns the identity of the experiment's run.
func (e *Experiment) identity() RunIdentity {
	id := RunIdentity{
		Model: e.Config, Steps: e.Train.Steps, Batch: e.Train.Batch, Seed: e.Train.Seed,
		Init: e.Train.Init, Beta: e.Train.Beta, CorpusSize: e.Corpus.Size, CorpusHash: e.Corpus.Hash,
		ACTSites: strings.Join(e.Train.ACTSites, ","),
	}
	if c := strings.TrimSpace(e.Train.Compress); c != CompressNone {
		id.Compress = c
	}
	if e.Train.Workers >= 2 {
		id.Workers = e.Train.Workers
	}
	return id
}

// storeRunState writes the current run state into the paramRunState hyperparameter.
func (e *Experiment) storeRunState() error {
	batches, err := e.Batches.State()
	if err != nil {
		return err
	}
	state := RunState{Identity: e.identity(), Batches: batches, History: e.history}
	for v := range e.Store.IterVariables() {
		if !v.Trainable {
			state.NonTrainable = append(state.NonTrainable, v.Path())
		}
	}
	encoded, err := json.Marshal(state)
	if err != nil {
		return errors.Wrap(err, "failed to encode the run state")
	}
	e.Store.RootScope().SetParam(paramRunState, string(encoded))
	return nil
}

// restoreRunState reads the run state from the paramRunState hyperparameter (set
// by a loaded checkpoint) and restores the batch generator, the trainable flags
// and the history. It fails if the checkpoint belongs to a different run.
func (e *Experiment) restoreRunState(checkpointName string) error {
	encoded := model.GetParamOr(e.Store.RootScope(), paramRunState, "")
	if encoded == "" {
		return errors.Errorf("checkpoint %s has no run state (%s): it was not written by this experiment", checkpointName, paramRunState)
	}
	var state RunState
	if err := json.Unmarshal([]byte(encoded), &state); err != nil {
		return errors.Wrapf(err, "checkpoint %s: failed to decode the run state", checkpointName)
	}
	if want := e.identity(); state.Identity != want {
		got, _ := json.Marshal(state.Identity)
		wanted, _ := json.Marshal(want)
		return errors.Errorf("checkpoint %s belongs to another run and cannot be resumed by this one:\n  checkpoint: %s\n  this run:   %s\n"+
			"use another -checkpoint directory, or the same flags as the checkpointed run", checkpointName, got, wanted)
	}
	if err := e.Batches.SetState(state.Batches); err != nil {
		return errors.WithMessagef(err, "checkpoint %s", checkpointName)
	}
	for v := range e.Store.IterVariables() {
		v.SetTrainable(!slices.Contains(state.NonTrainable, v.Path()))
	}
	e.history = state.History
	if e.history.ValLoss == nil {
		e.history.ValLoss = map[int]float64{}
	}
	return nil
}
