package main

import (
	"fmt"
	"slices"
	"sort"
	"strconv"

	"github.com/ggprior/ggprior/examples/charlm/charlm"
	"gonum.org/v1/gonum/stat"
)

// meanStd is a mean and its spread over seeds.
type meanStd struct {
	Mean float64 `json:"mean"`
	// Std is the sample standard deviation (n-1 normalization; 0 for one value).
	Std float64 `json:"std"`
	// N is the number of values (seeds).
	N int `json:"n"`
}

// newMeanStd returns the mean and sample standard deviation of xs.
func newMeanStd(xs []float64) meanStd {
	switch len(xs) {
	case 0:
		return meanStd{}
	case 1:
		return meanStd{Mean: xs[0], N: 1}
	}
	m, s := stat.MeanStdDev(xs, nil)
	return meanStd{Mean: m, Std: s, N: len(xs)}
}

// evalLoss is the validation loss at one evaluation step, over seeds.
type evalLoss struct {
	Step int `json:"step"`
	meanStd
}

// configSummary aggregates the runs of one configuration.
type configSummary struct {
	Name string `json:"name"`
	// Init and Beta are the runs' initialization, from their results.
	Init string `json:"init"`
	Beta string `json:"beta,omitempty"`
	// Seeds are the seeds of the runs aggregated.
	Seeds []int64 `json:"seeds"`
	// ValLoss is the validation loss at each evaluation step.
	ValLoss []evalLoss `json:"val_loss"`
	// Final is the validation loss at the last step.
	Final meanStd `json:"final_val_loss"`
	// StepsToBaseline is the step at which the mean validation curve first
	// reaches the baseline's mean final loss, interpolated linearly between
	// evaluation steps; nil if it never does (or there is no baseline).
	StepsToBaseline *float64 `json:"steps_to_baseline_final,omitempty"`
	// AtFirstEval is true when the curve is already there at its first
	// evaluation: StepsToBaseline is then that step, an upper bound.
	AtFirstEval bool `json:"at_first_eval,omitempty"`
	// FinalDiffPct is the final loss's difference from the baseline's, in
	// percent of the baseline's (negative: better); nil without a baseline.
	FinalDiffPct *float64 `json:"final_diff_pct_vs_baseline,omitempty"`
	// SecPerStep is the median step time of the runs, in seconds.
	SecPerStep meanStd `json:"sec_per_step"`
	// Notes report inconsistencies between the runs.
	Notes []string `json:"notes,omitempty"`

	// trainCurve is the training loss curve, mean over seeds: [step, loss].
	trainCurve [][2]float64
}

// missingRuns lists the seeds of a configuration without results.
type missingRuns struct {
	Config string  `json:"config"`
	Seeds  []int64 `json:"seeds"`
}

// studySummary is the aggregate of a study directory.
type studySummary struct {
	Dir string `json:"dir"`
	// Steps is the length of the runs aggregated.
	Steps int    `json:"steps"`
	Note  string `json:"note,omitempty"`
	// EvalSteps are the evaluation steps of the table's columns.
	EvalSteps []int `json:"eval_steps"`
	// Baseline names the baseline configuration; BaselineFinal is its final
	// loss (nil when it has no runs).
	Baseline      string           `json:"baseline"`
	BaselineFinal *meanStd         `json:"baseline_final_val_loss,omitempty"`
	Configs       []*configSummary `json:"configs"`
	// Missing lists the expected runs without results; InProgress the runs
	// being written; Ignored the results files not used, with why.
	Missing    []missingRuns `json:"missing,omitempty"`
	InProgress []string      `json:"in_progress,omitempty"`
	Ignored    []string      `json:"ignored,omitempty"`
}

// aggregate summarizes the runs of ld that are steps long (see chooseSteps
// for steps <= 0), expecting every configuration of expected and every seed of
// seeds (plus any other configuration found).
func aggregate(dir string, ld *loadedDir, steps int, expected []string, seeds []int64) (*studySummary, error) {
	steps = chooseSteps(ld.runs, steps)
	s := &studySummary{Dir: dir, Steps: steps, Baseline: baselineName, InProgress: ld.inProgress, Ignored: slices.Clone(ld.ignored)}
	if steps < charlm.FullRunSteps {
		s.Note = fmt.Sprintf("quick profile: %d steps (the full run is %d)", steps, charlm.FullRunSteps)
	}
	byConfig := map[string][]run{}
	otherSteps := map[int]int{}
	for _, r := range ld.runs {
		if r.steps != steps {
			otherSteps[r.steps]++
			continue
		}
		byConfig[r.config] = append(byConfig[r.config], r)
	}
	for _, n := range sortedKeys(otherSteps) {
		s.Ignored = append(s.Ignored, fmt.Sprintf("%s of %d steps (aggregate with -steps %d)", plural(otherSteps[n], "run"), n, n))
	}
	if len(byConfig) == 0 {
		return nil, fmt.Errorf("initstudy: no results file (<config>-seed<S>-steps<N>.json) of %d steps in %s", steps, dir)
	}

	names := slices.Clone(expected)
	var extra []string
	for name := range byConfig {
		if !slices.Contains(names, name) {
			extra = append(extra, name)
		}
	}
	sort.Strings(extra)
	names = append(names, extra...)
	evalSet := map[int]bool{}
	for _, name := range names {
		runs := byConfig[name]
		var missing []int64
		for _, seed := range seeds {
			if !slices.ContainsFunc(runs, func(r run) bool { return r.seed == seed }) {
				missing = append(missing, seed)
			}
		}
		if len(missing) > 0 {
			s.Missing = append(s.Missing, missingRuns{Config: name, Seeds: missing})
		}
		if len(runs) == 0 {
			continue
		}
		c := summarizeConfig(name, runs)
		for _, e := range c.ValLoss {
			evalSet[e.Step] = true
		}
		s.Configs = append(s.Configs, c)
	}
	s.EvalSteps = sortedKeys(evalSet)
	compareToBaseline(s)
	return s, nil
}

// summarizeConfig aggregates the runs of one configuration.
func summarizeConfig(name string, runs []run) *configSummary {
	first := runs[0].results.Config
	c := &configSummary{Name: name, Init: first.Train.Init, Beta: first.Train.Beta}
	losses := map[int][]float64{}
	var finals, times []float64
	train := map[int][]float64{}
	for _, r := range runs {
		c.Seeds = append(c.Seeds, r.seed)
		cfg := r.results.Config
		if cfg.Train.Init != c.Init || cfg.Train.Beta != c.Beta || cfg.Model.String() != first.Model.String() {
			c.Notes = append(c.Notes, fmt.Sprintf("seed %d differs from seed %d: init %s beta %q, model %s",
				r.seed, runs[0].seed, cfg.Train.Init, cfg.Train.Beta, cfg.Model))
		}
		last := 0
		for key, loss := range r.results.ValLoss {
			step, err := strconv.Atoi(key)
			if err != nil {
				c.Notes = append(c.Notes, fmt.Sprintf("seed %d: val_loss step %q is not a number", r.seed, key))
				continue
			}
			losses[step] = append(losses[step], loss)
			last = max(last, step)
		}
		finals = append(finals, r.results.ValLoss[strconv.Itoa(last)])
		times = append(times, r.results.SecPerStepMedian)
		for _, p := range r.results.LossCurve {
			train[int(p[0])] = append(train[int(p[0])], p[1])
		}
	}
	for _, step := range sortedKeys(losses) {
		c.ValLoss = append(c.ValLoss, evalLoss{Step: step, meanStd: newMeanStd(losses[step])})
	}
	c.Final, c.SecPerStep = newMeanStd(finals), newMeanStd(times)
	for _, step := range sortedKeys(train) {
		c.trainCurve = append(c.trainCurve, [2]float64{float64(step), stat.Mean(train[step], nil)})
	}
	return c
}

// compareToBaseline fills, for every configuration, the steps to reach the
// baseline's mean final loss and the final loss difference.
func compareToBaseline(s *studySummary) {
	i := slices.IndexFunc(s.Configs, func(c *configSummary) bool { return c.Name == s.Baseline })
	if i < 0 {
		return
	}
	base := s.Configs[i].Final
	s.BaselineFinal = &base
	for _, c := range s.Configs {
		if step, first, ok := crossing(c.ValLoss, base.Mean); ok {
			c.StepsToBaseline, c.AtFirstEval = &step, first
		}
		diff := 100 * (c.Final.Mean - base.Mean) / base.Mean
		c.FinalDiffPct = &diff
	}
}

// crossing returns the step at which the mean curve first reaches target or
// below, linearly interpolated between the evaluation steps around the
// crossing. first reports a curve already there at its first evaluation (the
// step returned is then that evaluation's); ok is false if it never gets there.
func crossing(curve []evalLoss, target float64) (step float64, first, ok bool) {
	for i, p := range curve {
		if p.Mean > target {
			continue
		}
		if i == 0 {
			return float64(p.Step), true, true
		}
		prev := curve[i-1]
		frac := (prev.Mean - target) / (prev.Mean - p.Mean)
		return float64(prev.Step) + frac*float64(p.Step-prev.Step), false, true
	}
	return 0, false, false
}

// sortedKeys returns the keys of m in increasing order.
func sortedKeys[V any](m map[int]V) []int {
	keys := make([]int, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
