package main

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/ggprior/ggprior/examples/charlm/charlm"
	"github.com/ggprior/ggprior/examples/ggstats/fitbetas"
	"github.com/ggprior/ggprior/examples/study"
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
	runner := &study.Runner{Dir: o.out, Model: quickModel}
	if !o.quiet {
		runner.Progress = stderr
	}
	for _, seed := range o.seeds {
		for _, c := range o.configs {
			spec, err := study.NewRunSpec(c.Name, c.args(seed, o.steps, o.evalAt), false)
			if err != nil {
				return fmt.Errorf("initstudy: %w", err)
			}
			done, err := runner.Done(spec)
			if err != nil {
				return fmt.Errorf("initstudy: %w", err)
			}
			if done != nil {
				fmt.Fprintf(stderr, "== %s seed %d: done before (%s)\n", c.Name, seed, runner.ResultsPath(spec))
				continue
			}
			fmt.Fprintf(stderr, "== %s seed %d\n", c.Name, seed)
			if _, err := runner.Train(spec); err != nil {
				return fmt.Errorf("initstudy: %s seed %d: %w", c.Name, seed, err)
			}
		}
	}
	return nil
}

// args returns the charlm arguments of the configuration's run at seed, of
// the given length and evaluation steps, on quickData.
func (c studyConfig) args(seed int64, steps int, evalAt []int) []string {
	args := []string{"-init", c.Init}
	if c.Beta != "" {
		args = append(args, "-beta", c.Beta)
	}
	at := make([]string, len(evalAt))
	for i, s := range evalAt {
		at[i] = strconv.Itoa(s)
	}
	args = append(args, "-steps", strconv.Itoa(steps), "-seed", strconv.FormatInt(seed, 10), "-eval-at", strings.Join(at, ","))
	if quickData != "" {
		args = append(args, "-data", quickData)
	}
	return args
}
