package charlm

import (
	"fmt"
	"github.com/ggprior/ggprior/layers"
	"slices"
	"strings"

	"github.com/gomlx/compute"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/pkg/errors"
)

// This file gives inference outside the training loop (package
// internal/charlm/generate) what it needs of a run's checkpoint: the model's
// architecture, its ACT sites and its variables, and the GoMLX graph of the
// model as validation runs it.

// InferenceCheckpoint is a charlm run's checkpoint read back for inference.
type InferenceCheckpoint struct {
	// Dir and Name are the checkpoint's directory and base name.
	Dir, Name string
	// Config is the architecture of the run (from its run state).
	Config Config
	// ACTSites are the run's ACT sites (ActivationSites order); empty without ACT.
	ACTSites []string
	// Store holds the checkpoint's variables and hyperparameters. ACT's
	// running threshold of a site is the Float32 scalar variable
	// "/block_LLL/<attn|mlp>/<site>/act/threshold" (see ACTThresholdPath).
	Store *model.Store
}

// LoadInferenceCheckpoint reads the latest checkpoint in dir, which must be a
// charlm run's (one with a run state). Nothing is written.
func LoadInferenceCheckpoint(dir string) (*InferenceCheckpoint, error) {
	base, err := LatestCheckpoint(dir)
	if err != nil {
		return nil, err
	}
	state, found, err := checkpointRunState(dir, base)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, errors.Errorf("checkpoint %s in %s has no run state (%s): not a checkpoint of a charlm run", base, dir, paramRunState)
	}
	cfg := state.Identity.Model
	if err := cfg.Validate(); err != nil {
		return nil, errors.WithMessagef(err, "checkpoint %s in %s: model", base, dir)
	}
	var sites []string
	if s := strings.TrimSpace(state.Identity.ACTSites); s != "" {
		if sites, err = parseACTSites(s); err != nil {
			return nil, errors.WithMessagef(err, "checkpoint %s in %s: ACT sites", base, dir)
		}
	}
	store := model.NewStore()
	if err := loadCheckpoint(store, dir, base); err != nil {
		return nil, err
	}
	for v := range store.IterVariables() {
		v.SetTrainable(!slices.Contains(state.NonTrainable, v.Path()))
	}
	return &InferenceCheckpoint{Dir: dir, Name: base, Config: cfg, ACTSites: sites, Store: store}, nil
}

// ACTThresholdPath returns the path of the running threshold of ACT at site
// (one of ActivationSites) in block layer: the threshold inference applies,
// keeping the values x with |x| >= threshold and zeroing the others.
func ACTThresholdPath(layer int, site string) string {
	sub := "mlp"
	if site == SiteAttnIn {
		sub = "attn"
	}
	return model.JoinPath(model.RootScopePath, fmt.Sprintf("block_%03d", layer), sub, site, "act", layers.MetricThreshold)
}

// Model returns the checkpoint's model, with ACT at its sites.
func (c *InferenceCheckpoint) Model() *Model {
	m := &Model{Config: c.Config, Init: initNormal02()}
	if len(c.ACTSites) > 0 {
		m.Activation = TrainConfig{ACTSites: c.ACTSites}.actActivation()
	}
	return m
}

// LogitsExec returns an executor of the checkpoint's model in inference mode
// (ACT zeroes the values below its frozen thresholds), as validation runs it:
// int32 tokens [batch, seq] (seq <= Config.Block) in, next-byte logits
// [batch, seq, vocab] out.
func (c *InferenceCheckpoint) LogitsExec(backend compute.Backend) (*model.Exec, error) {
	m := c.Model()
	exec, err := model.NewExec(backend, c.Store, func(scope *model.Scope, tokens *Node) *Node {
		scope.Store().SetTraining(tokens.Graph(), false)
		return m.Logits(scope, tokens)
	})
	if err != nil {
		return nil, errors.WithMessagef(err, "checkpoint %s: the model's graph", c.Name)
	}
	return exec, nil
}

// DefaultValidationText returns the validation split of the default corpus
// (the last 10% of the text that ships with Go).
func DefaultValidationText() ([]byte, error) {
	c, err := loadCorpus("")
	if err != nil {
		return nil, err
	}
	return c.Val, nil
}
