package study

import (
	"fmt"
	"github.com/ggprior/ggprior/internal/stats"
	"slices"
	"sort"
	"strconv"

	"github.com/ggprior/ggprior/internal/charlm"
	"gonum.org/v1/gonum/stat"
)

// EvalLoss is the validation loss at one evaluation step, over seeds.
type EvalLoss struct {
	Step int `json:"step"`
	stats.MeanStd
}

// ConfigSummary aggregates the runs of one configuration.
type ConfigSummary struct {
	Name string `json:"name"`
	// Init and Beta are the runs' initialization, from their results.
	Init string `json:"init"`
	Beta string `json:"beta,omitempty"`
	// Seeds are the seeds of the runs aggregated.
	Seeds []int64 `json:"seeds"`
	// ValLoss is the validation loss at each evaluation step.
	ValLoss []EvalLoss `json:"val_loss"`
	// Final is the validation loss at the last step.
	Final stats.MeanStd `json:"final_val_loss"`
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
	// PairedDiff is the final loss minus the baseline's final loss at the
	// same seed, over the seeds both have: the seed fixes the order of the
	// training batches, so each pair differs only by the configuration (and
	// its random draws). Nil for the baseline, or without common seeds.
	PairedDiff *stats.MeanStd `json:"paired_final_diff_vs_baseline,omitempty"`
	// SecPerStep is the median step time of the runs, in seconds.
	SecPerStep stats.MeanStd `json:"sec_per_step"`
	// Notes report inconsistencies between the runs.
	Notes []string `json:"notes,omitempty"`

	// TrainCurve is the training loss curve, mean over seeds: [step, loss].
	TrainCurve [][2]float64 `json:"-"`
	// Runs are the runs aggregated, in seed order, for measurements of
	// their own (e.g. ACT's sparsity over seeds, see Over).
	Runs []Run `json:"-"`

	finalBySeed map[int64]float64
}

// FinalAt returns the final validation loss of the configuration's run
// with the given seed; ok is false if it has no run with that seed.
func (c *ConfigSummary) FinalAt(seed int64) (loss float64, ok bool) {
	loss, ok = c.finalBySeed[seed]
	return loss, ok
}

// Over returns the mean and spread over the configuration's runs of the
// measurement m; runs for which m reports no value (ok false) are left out.
func (c *ConfigSummary) Over(m func(r *charlm.Results) (value float64, ok bool)) stats.MeanStd {
	var xs []float64
	for _, r := range c.Runs {
		if v, ok := m(r.Results); ok {
			xs = append(xs, v)
		}
	}
	return stats.NewMeanStd(xs)
}

// MissingRuns lists the seeds of a configuration without results.
type MissingRuns struct {
	Config string  `json:"config"`
	Seeds  []int64 `json:"seeds"`
}

// Summary is the aggregate of a study directory.
type Summary struct {
	Dir string `json:"dir"`
	// Steps is the length of the runs aggregated.
	Steps int    `json:"steps"`
	Note  string `json:"note,omitempty"`
	// EvalSteps are the evaluation steps of the table's columns.
	EvalSteps []int `json:"eval_steps"`
	// Baseline names the baseline configuration; BaselineFinal is its final
	// loss (nil when it has no runs).
	Baseline      string           `json:"baseline"`
	BaselineFinal *stats.MeanStd   `json:"baseline_final_val_loss,omitempty"`
	Configs       []*ConfigSummary `json:"configs"`
	// Missing lists the expected runs without results; InProgress the runs
	// being written; Ignored the results files not used, with why.
	Missing    []MissingRuns `json:"missing,omitempty"`
	InProgress []string      `json:"in_progress,omitempty"`
	Ignored    []string      `json:"ignored,omitempty"`
}

// Config returns the summary of the configuration called name, or nil.
func (s *Summary) Config(name string) *ConfigSummary {
	i := slices.IndexFunc(s.Configs, func(c *ConfigSummary) bool { return c.Name == name })
	if i < 0 {
		return nil
	}
	return s.Configs[i]
}

// AggregateOptions says what Aggregate summarizes.
type AggregateOptions struct {
	// Steps is the length of the runs to aggregate; <= 0 chooses it (see ChooseSteps).
	Steps int
	// Expected are the configurations expected, in table order; Seeds the
	// seeds expected of each. Runs missing are listed in Summary.Missing.
	Expected []string
	Seeds    []int64
	// OnlyExpected leaves out the other configurations and seeds found in
	// the directory (by default they are aggregated too: other
	// configurations follow the expected ones, sorted by name).
	OnlyExpected bool
	// Baseline names the configuration every other one is compared with.
	Baseline string
}

// Aggregate summarizes the runs of ld (loaded from dir) as opts says.
func Aggregate(dir string, ld *Dir, opts AggregateOptions) (*Summary, error) {
	steps := chooseSteps(ld.Runs, opts.Steps)
	s := &Summary{Dir: dir, Steps: steps, Baseline: opts.Baseline, InProgress: ld.InProgress, Ignored: slices.Clone(ld.Ignored)}
	if steps < charlm.FullRunSteps {
		s.Note = fmt.Sprintf("quick profile: %d steps (the full run is %d)", steps, charlm.FullRunSteps)
	}
	byConfig := map[string][]Run{}
	otherSteps := map[int]int{}
	for _, r := range ld.Runs {
		if opts.OnlyExpected && (!slices.Contains(opts.Expected, r.Config) || !slices.Contains(opts.Seeds, r.Seed)) {
			continue
		}
		if r.Steps != steps {
			otherSteps[r.Steps]++
			continue
		}
		byConfig[r.Config] = append(byConfig[r.Config], r)
	}
	for _, n := range sortedKeys(otherSteps) {
		s.Ignored = append(s.Ignored, fmt.Sprintf("%s of %d steps (aggregate with -steps %d)", Plural(otherSteps[n], "run"), n, n))
	}
	if len(byConfig) == 0 {
		return nil, fmt.Errorf("no results file (<config>-seed<S>-steps<N>.json) of %d steps in %s", steps, dir)
	}

	names := slices.Clone(opts.Expected)
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
		for _, seed := range opts.Seeds {
			if !slices.ContainsFunc(runs, func(r Run) bool { return r.Seed == seed }) {
				missing = append(missing, seed)
			}
		}
		if len(missing) > 0 {
			s.Missing = append(s.Missing, MissingRuns{Config: name, Seeds: missing})
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

// summarizeConfig aggregates the runs of one configuration (all of the same
// length): validation losses, final loss, step time and training curve over
// seeds, with notes on runs whose configuration differs from the first's.
func summarizeConfig(name string, runs []Run) *ConfigSummary {
	first := runs[0].Results.Config
	c := &ConfigSummary{Name: name, Init: first.Train.Init, Beta: first.Train.Beta, Runs: runs, finalBySeed: map[int64]float64{}}
	losses := map[int][]float64{}
	var finals, times []float64
	train := map[int][]float64{}
	for _, r := range runs {
		c.Seeds = append(c.Seeds, r.Seed)
		cfg := r.Results.Config
		if cfg.Train.Init != c.Init || cfg.Train.Beta != c.Beta || cfg.Model.String() != first.Model.String() {
			c.Notes = append(c.Notes, fmt.Sprintf("seed %d differs from seed %d: init %s beta %q, model %s",
				r.Seed, runs[0].Seed, cfg.Train.Init, cfg.Train.Beta, cfg.Model))
		}
		last := 0
		for key, loss := range r.Results.ValLoss {
			step, err := strconv.Atoi(key)
			if err != nil {
				c.Notes = append(c.Notes, fmt.Sprintf("seed %d: val_loss step %q is not a number", r.Seed, key))
				continue
			}
			losses[step] = append(losses[step], loss)
			last = max(last, step)
		}
		finals = append(finals, r.Results.ValLoss[strconv.Itoa(last)])
		c.finalBySeed[r.Seed] = finals[len(finals)-1]
		times = append(times, r.Results.SecPerStepMedian)
		for _, p := range r.Results.LossCurve {
			train[int(p[0])] = append(train[int(p[0])], p[1])
		}
	}
	for _, step := range sortedKeys(losses) {
		c.ValLoss = append(c.ValLoss, EvalLoss{Step: step, MeanStd: stats.NewMeanStd(losses[step])})
	}
	c.Final, c.SecPerStep = stats.NewMeanStd(finals), stats.NewMeanStd(times)
	for _, step := range sortedKeys(train) {
		c.TrainCurve = append(c.TrainCurve, [2]float64{float64(step), stat.Mean(train[step], nil)})
	}
	return c
}

// compareToBaseline fills, for every configuration, the steps to reach the
// baseline's mean final loss and the final loss difference.
func compareToBaseline(s *Summary) {
	b := s.Config(s.Baseline)
	if b == nil {
		return
	}
	base := b.Final
	s.BaselineFinal = &base
	for _, c := range s.Configs {
		if step, first, ok := crossing(c.ValLoss, base.Mean); ok {
			c.StepsToBaseline, c.AtFirstEval = &step, first
		}
		diff := 100 * (c.Final.Mean - base.Mean) / base.Mean
		c.FinalDiffPct = &diff
		if c == b {
			continue
		}
		var pairs []float64
		for _, seed := range c.Seeds {
			if bf, ok := b.finalBySeed[seed]; ok {
				pairs = append(pairs, c.finalBySeed[seed]-bf)
			}
		}
		if len(pairs) > 0 {
			paired := stats.NewMeanStd(pairs)
			c.PairedDiff = &paired
		}
	}
}

// crossing returns the step at which the mean curve first reaches target or
// below, linearly interpolated between the evaluation steps around the
// crossing. first reports a curve already there at its first evaluation (the
// step returned is then that evaluation's); ok is false if it never gets there.
func crossing(curve []EvalLoss, target float64) (step float64, first, ok bool) {
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
