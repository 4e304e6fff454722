package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/ggprior/ggprior/backends"
	"github.com/ggprior/ggprior/examples/charlm/charlm"
	"github.com/ggprior/ggprior/examples/ggstats/fitbetas"
)

// quickModel returns the architecture -quick trains (tests make it smaller).
var quickModel = charlm.DefaultConfig

// quickData is the text -quick trains on ("": charlm's default corpus).
var quickData = ""

// runQuick runs the quick profile of o: every configuration at every seed,
// seeds in the outer loop, each writing its results JSON into o.out (a new
// temporary directory if empty), which becomes the directory to aggregate.
// Runs whose results exist are skipped.
func runQuick(o *options, stderr io.Writer) error {
	if o.out == "" {
		dir, err := os.MkdirTemp("", "initstudy-quick-")
		if err != nil {
			return fmt.Errorf("initstudy: %w", err)
		}
		o.out = dir
	} else if err := os.MkdirAll(o.out, 0o755); err != nil {
		return fmt.Errorf("initstudy: -out: %w", err)
	}
	o.dir = o.out
	if o.fitBetas != "" {
		spec, err := fitbetas.Spec(o.fitBetas)
		if err != nil {
			return err
		}
		o.configs = append(o.configs, studyConfig{Name: fitName, Init: charlm.InitNameGG, Beta: spec})
	}
	fmt.Fprintf(stderr, "quick profile: %d configurations x %d seeds, %d steps each, evaluated at %v; results in %s\n",
		len(o.configs), len(o.seeds), o.steps, o.evalAt, o.out)
	for _, seed := range o.seeds {
		for _, c := range o.configs {
			path := filepath.Join(o.out, resultsFileName(c.Name, seed, o.steps))
			if _, err := os.Stat(path); err == nil {
				fmt.Fprintf(stderr, "== %s seed %d: done before (%s)\n", c.Name, seed, path)
				continue
			}
			fmt.Fprintf(stderr, "== %s seed %d\n", c.Name, seed)
			if err := quickRun(o, c, seed, path, stderr); err != nil {
				return fmt.Errorf("initstudy: %s seed %d: %w", c.Name, seed, err)
			}
		}
	}
	return nil
}

// quickRun trains one configuration and writes its results to path (through
// a temporary name, so a partial file is never taken for results).
func quickRun(o *options, c studyConfig, seed int64, path string, stderr io.Writer) error {
	tc := charlm.DefaultTrainConfig()
	tc.Steps, tc.Seed, tc.Init, tc.Beta, tc.EvalAt, tc.Data = o.steps, seed, c.Init, c.Beta, o.evalAt, quickData
	exp, err := charlm.NewExperiment(backends.Go(), quickModel(), tc)
	if err != nil {
		return err
	}
	if !o.quiet {
		exp.Progress = stderr
	}
	results, err := exp.Run()
	if err != nil {
		return err
	}
	if err := results.WriteJSON(path + ".tmp"); err != nil {
		return err
	}
	return os.Rename(path+".tmp", path)
}
