package charlm

import (
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"

	"github.com/ggprior/ggprior/layers"
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

	// Settings are the run's settings that are not hyperparameters of the
	// Store (which the checkpoint holds itself); nil in checkpoints written
	// before they were recorded.
	Settings *RunSettings `json:"settings,omitempty"`
}

// RunSettings are the settings of a run, besides the Store's
// hyperparameters, that a resume compares (see Experiment.checkResume).
type RunSettings struct {
	// ACTSparsity is TrainConfig.ACTSparsity: ACT's per-site targets.
	ACTSparsity map[string]float64 `json:"act_sparsity,omitempty"`
	// ACTRamp is TrainConfig.ACTRamp: ACT's per-site ramps.
	ACTRamp map[string][2]int `json:"act_ramp,omitempty"`
	// ValWindows is TrainConfig.ValWindows: the validation losses of the
	// history were measured on that many windows.
	ValWindows int `json:"val_windows,omitempty"`
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
	// Changes are the hyperparameters that resumes changed
	// (TrainConfig.AllowChanges), in order.
	Changes []HyperparameterChange `json:"hyperparameter_changes,omitempty"`
}

// HyperparameterChange records a hyperparameter that a resumed run changed
// (TrainConfig.AllowChanges): the steps before Step were trained with From,
// Step and those after with To.
type HyperparameterChange struct {
	// Step is the first step trained with To.
	Step int `json:"step"`
	// Key names the hyperparameter as -set does (its full path outside the
	// root scope), "act_sparsity[SITE]" for a per-site ACT target,
	// "act_ramp[SITE]" for a per-site ramp ([start, end]), or
	// "val_windows" (TrainConfig.ValWindows).
	Key string `json:"key"`
	// From and To are the values before and after; nil for none.
	From any `json:"from"`
	To   any `json:"to"`
}

// resumeCheck is what checkResume compares a resumed run with: the
// checkpoint's hyperparameters and settings.
type resumeCheck struct {
	checkpoint string
	params     map[string]any
	settings   *RunSettings
	done       bool
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
	state := RunState{Identity: e.identity(), Batches: batches, History: e.history,
		Settings: &RunSettings{ACTSparsity: e.Train.ACTSparsity, ACTRamp: e.Train.ACTRamp, ValWindows: e.Train.ValWindows}}
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
	e.resume = &resumeCheck{checkpoint: checkpointName, params: hyperparameters(e.Store), settings: state.Settings}
	return nil
}

// hyperparameters returns the store's hyperparameters (not the internal run
// state), named as -set names them (see paramName).
func hyperparameters(store *model.Store) map[string]any {
	params := map[string]any{}
	for fullPath, value := range store.IterParams() {
		scope, key := model.SplitPath(fullPath)
		if !strings.HasPrefix(key, internalParamPrefix) {
			params[paramName(scope, key)] = value
		}
	}
	return params
}

// checkSettings checks the run's settings before its first training step:
// the hyperparameters' values (validateHyperparameters) and, for a resumed
// run, that they are the checkpoint's (checkResume). NewJob calls it once
// the settings are applied, TrainTo before it trains.
func (e *Experiment) checkSettings() error {
	if err := validateHyperparameters(e.Store); err != nil {
		return err
	}
	return e.checkResume()
}

// checkResume compares a resumed run's hyperparameters and settings (see
// RunSettings) with the checkpoint's, once. A difference is an error that
// lists each with both values, unless Train.AllowChanges: then the history
// records them (History.Changes) from the next step on.
func (e *Experiment) checkResume() error {
	r := e.resume
	if r == nil || r.done {
		return nil
	}
	var changes []HyperparameterChange
	differ := func(key string, from, to any) {
		if !reflect.DeepEqual(from, to) {
			changes = append(changes, HyperparameterChange{Step: e.globalStep + 1, Key: key, From: from, To: to})
		}
	}
	now := hyperparameters(e.Store)
	for _, key := range slices.Sorted(maps.Keys(now)) {
		differ(key, r.params[key], now[key])
	}
	for _, key := range slices.Sorted(maps.Keys(r.params)) {
		if _, found := now[key]; !found {
			differ(key, r.params[key], nil)
		}
	}
	if s := r.settings; s != nil {
		diffPerSite(s.ACTSparsity, e.Train.ACTSparsity, layers.ParamSparsity, differ)
		diffPerSite(s.ACTRamp, e.Train.ACTRamp, "act_ramp", differ)
		differ("val_windows", s.ValWindows, e.Train.ValWindows)
	}
	if len(changes) > 0 && !e.Train.AllowChanges {
		lines := make([]string, len(changes))
		for i, c := range changes {
			lines[i] = fmt.Sprintf("  %s: %s in the checkpoint, %s in this run", c.Key, formatValue(c.From), formatValue(c.To))
		}
		return errors.Errorf("checkpoint %s was trained with other hyperparameters than this run's:\n%s\n"+
			"resume with the checkpoint's values (the flags and -set of the run that wrote it), "+
			"or allow the change with -allow-changes (the results then record it, from step %d on)",
			r.checkpoint, strings.Join(lines, "\n"), e.globalStep+1)
	}
	e.history.Changes = append(e.history.Changes, changes...)
	r.done = true
	return nil
}

// diffPerSite calls differ("KEY[SITE]", from, to) for every site of either
// per-site map, in site order; a site missing from one side is nil there.
func diffPerSite[V any](from, to map[string]V, key string, differ func(key string, from, to any)) {
	sites := slices.Collect(maps.Keys(from))
	for site := range to {
		if _, found := from[site]; !found {
			sites = append(sites, site)
		}
	}
	slices.Sort(sites)
	for _, site := range sites {
		f, inFrom := from[site]
		t, inTo := to[site]
		differ(fmt.Sprintf("%s[%s]", key, site), valueOrNil(f, inFrom), valueOrNil(t, inTo))
	}
}

// valueOrNil returns v if ok, nil otherwise.
func valueOrNil[V any](v V, ok bool) any {
	if !ok {
		return nil
	}
	return v
}

// formatValue formats a hyperparameter's value for a message: "none" for nil.
func formatValue(v any) string {
	if v == nil {
		return "none"
	}
	return fmt.Sprint(v)
}
