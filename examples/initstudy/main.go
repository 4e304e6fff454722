// Command initstudy aggregates the GG-initialization study of the charlm
// reference experiment: it reads the results JSON of every run in a directory
// (files "<config>-seed<S>-steps<N>.json", as charlm's -results writes them
// and study/run_init_study.sh names them) and writes
//
//   - init-study.md: a markdown table, one row per configuration, with the
//     validation loss at each evaluation step (mean ± sample standard deviation
//     over seeds, with the seeds), the steps to reach the baseline's (normal02)
//     mean final loss (interpolated between evaluations, or "not reached") and
//     the final loss difference from the baseline in percent; then the runs
//     missing, in progress or ignored. It is also printed to stdout.
//   - init-study.png: the validation loss curves (mean over seeds, markers at
//     the evaluations) with the smoothed training loss (thin lines).
//   - init-study.json: the same numbers, for scripts.
//
// Usage:
//
//	go run ./examples/initstudy -dir study/init [-out DIR] [-steps N] [-seeds 1,2,3] [-configs a,b]
//	go run ./examples/initstudy -quick [-out DIR] [-steps 300] [-seeds 1] [-eval-at 100,200,300] [-fit-betas CKPT_DIR]
//
// Partial studies work: the table holds what exists and says what is missing
// (every -configs configuration at every -seeds seed is expected).
//
// With -quick it first runs a small profile itself, in-process: every
// configuration (normal02, he, gg with beta 1.0, 1.4 and 2.0, and gg-fit when
// -fit-betas gives a trained checkpoint to fit the shapes to) for -steps steps
// at each -seeds seed, with the results in -out (a new temporary directory by
// default; runs whose results exist are skipped, so it resumes), then
// aggregates them. The default profile (300 steps, 1 seed, 3 evaluations)
// is five runs of a few minutes each on two cores (build with
// GOEXPERIMENT=simd, as for charlm); -configs and -steps shrink it. Its
// numbers are a smoke test of the study, not the study.
//
// The loading, aggregation, table and plot are package examples/study's,
// which examples/paper shares.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/ggprior/ggprior/examples/study"
)

// Output file names, in the -out directory.
const (
	markdownFile = "init-study.md"
	plotFile     = "init-study.png"
	jsonFile     = "init-study.json"
)

func main() {
	if err := runMain(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if err != flag.ErrHelp {
			fmt.Fprintln(os.Stderr, "initstudy:", err)
		}
		os.Exit(2)
	}
}

// options are the command's settings.
type options struct {
	dir, out string
	steps    int
	seeds    []int64
	configs  []studyConfig
	quick    bool
	evalAt   []int
	fitBetas string
	quiet    bool
	stepsSet bool
}

// parseFlags parses and checks the command line.
func parseFlags(args []string, stderr io.Writer) (options, error) {
	fs := flag.NewFlagSet("initstudy", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	var seeds, configs, evalAt string
	fs.StringVar(&o.dir, "dir", "study/init", "the study `directory` holding the results JSON files")
	fs.StringVar(&o.out, "out", "", "write init-study.{md,png,json} into this `directory` (default: -dir; with -quick, also the runs' results; default a new temporary directory)")
	fs.IntVar(&o.steps, "steps", 0, "aggregate the runs of `N` steps (default: the most common length); with -quick, the run length (default 300)")
	fs.StringVar(&seeds, "seeds", "", "comma-separated `seeds` expected (default 1,2,3); with -quick, run (default 1)")
	fs.StringVar(&configs, "configs", "", "comma-separated `configurations` expected, or run with -quick (default: "+strings.Join(studyConfigNames(), ",")+")")
	fs.BoolVar(&o.quick, "quick", false, "run a small profile of the study in-process first, then aggregate it")
	fs.StringVar(&evalAt, "eval-at", "", "with -quick, the evaluation `steps` (default: thirds of -steps)")
	fs.StringVar(&o.fitBetas, "fit-betas", "", "with -quick, also run gg-fit: GG shapes fitted per layer kind to the latest checkpoint in this `directory`")
	fs.BoolVar(&o.quiet, "quiet", false, "with -quick, no progress bars")
	if err := fs.Parse(args); err != nil {
		return options{}, err
	}
	if fs.NArg() > 0 {
		return options{}, fmt.Errorf("unexpected arguments %q (flags go before them?)", fs.Args())
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	o.stepsSet = set["steps"]
	if o.quick && set["dir"] {
		return options{}, fmt.Errorf("-quick writes its runs into -out, not -dir")
	}
	if !o.quick && (evalAt != "" || o.fitBetas != "" || o.quiet) {
		return options{}, fmt.Errorf("-eval-at, -fit-betas and -quiet are only used with -quick")
	}
	if o.steps < 0 {
		return options{}, fmt.Errorf("-steps must be positive")
	}
	var err error
	defaultSeeds := "1,2,3"
	if o.quick {
		defaultSeeds = "1"
		if o.steps == 0 {
			o.steps = 300
		}
	}
	if seeds == "" {
		seeds = defaultSeeds
	}
	if o.seeds, err = parseInts[int64]("-seeds", seeds, 0); err != nil {
		return options{}, err
	}
	if o.configs, err = parseConfigs(configs, o.quick); err != nil {
		return options{}, err
	}
	if o.quick {
		if evalAt == "" {
			o.evalAt = []int{max(1, o.steps/3), max(1, 2*o.steps/3), o.steps}
		} else if o.evalAt, err = parseInts[int]("-eval-at", evalAt, 1); err != nil {
			return options{}, err
		}
	}
	return o, nil
}

// parseInts parses a comma-separated list of integers >= least.
func parseInts[T int | int64](flagName, list string, least T) ([]T, error) {
	var out []T
	for part := range strings.SplitSeq(list, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		n, err := strconv.ParseInt(part, 10, 64)
		if err != nil || T(n) < least {
			return nil, fmt.Errorf("%s %q: %q is not an integer >= %d", flagName, list, part, least)
		}
		out = append(out, T(n))
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s %q: empty list", flagName, list)
	}
	return out, nil
}

// parseConfigs returns the configurations named in list (all of studyConfigs
// if empty). Names outside studyConfigs are allowed when aggregating (any
// configuration a study ran) but not with -quick, which must know how to run
// them.
func parseConfigs(list string, quick bool) ([]studyConfig, error) {
	if list == "" {
		return slices.Clone(studyConfigs), nil
	}
	var out []studyConfig
	for name := range strings.SplitSeq(list, ",") {
		name = strings.TrimSpace(name)
		i := slices.IndexFunc(studyConfigs, func(c studyConfig) bool { return c.Name == name })
		switch {
		case i >= 0:
			out = append(out, studyConfigs[i])
		case quick:
			return nil, fmt.Errorf("-configs: -quick does not know how to run %q: known configurations are %s (and %s with -fit-betas)",
				name, strings.Join(studyConfigNames(), ", "), fitName)
		default:
			out = append(out, studyConfig{Name: name})
		}
	}
	return out, nil
}

// runMain parses the command line and runs the command.
func runMain(args []string, stdout, stderr io.Writer) error {
	o, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	if o.quick {
		if err := runQuick(&o, stderr); err != nil {
			return err
		}
	}
	if o.out == "" {
		o.out = o.dir
	}
	return aggregateDir(o, stdout, stderr)
}

// aggregateDir aggregates o.dir and writes the table, plot and JSON.
func aggregateDir(o options, stdout, stderr io.Writer) error {
	ld, err := study.LoadDir(o.dir)
	if err != nil {
		return err
	}
	names := make([]string, len(o.configs))
	for i, c := range o.configs {
		names[i] = c.Name
	}
	steps := 0
	if o.stepsSet || o.quick {
		steps = o.steps
	}
	s, err := study.Aggregate(o.dir, ld, study.AggregateOptions{Steps: steps, Expected: names, Seeds: o.seeds, Baseline: baselineName})
	if err != nil {
		return err
	}
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return fmt.Errorf("initstudy: -out: %w", err)
	}
	if err := study.WriteLossPlot(filepath.Join(o.out, plotFile), s, fmt.Sprintf("charlm GG initialization study, %d steps", s.Steps)); err != nil {
		return err
	}
	if err := writeFile(filepath.Join(o.out, jsonFile), func(w io.Writer) error { return writeJSON(w, s) }); err != nil {
		return err
	}
	title := markdownTitle(s)
	if err := writeFile(filepath.Join(o.out, markdownFile), func(w io.Writer) error { return study.WriteMarkdown(w, s, title, plotFile) }); err != nil {
		return err
	}
	if err := study.WriteMarkdown(stdout, s, title, ""); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "written: %s, %s, %s in %s\n", markdownFile, plotFile, jsonFile, o.out)
	return nil
}

// markdownTitle is the title of the study's table.
func markdownTitle(s *study.Summary) string {
	return fmt.Sprintf("GG initialization study: charlm, %d steps", s.Steps)
}

// writeFile creates path and writes it with fn.
func writeFile(path string, fn func(w io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("initstudy: %w", err)
	}
	if err := fn(f); err != nil {
		_ = f.Close()
		return fmt.Errorf("initstudy: writing %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("initstudy: %w", err)
	}
	return nil
}
