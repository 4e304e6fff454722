package study

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/ggprior/ggprior/internal/charlm"
)

// resultsName matches the name of a results file: <config>-seed<S>-steps<N>.json.
var resultsName = regexp.MustCompile(`^(.+)-seed(\d+)-steps(\d+)\.json$`)

// ResultsFileName returns the name of the results file of a run:
// "<config>-seed<S>-steps<N>.json".
func ResultsFileName(config string, seed int64, steps int) string {
	return fmt.Sprintf("%s-seed%d-steps%d.json", config, seed, steps)
}

// RunName returns the name of a run, its results file name without ".json":
// "<config>-seed<S>-steps<N>" (also the name of its checkpoint directory).
func RunName(config string, seed int64, steps int) string {
	return strings.TrimSuffix(ResultsFileName(config, seed, steps), ".json")
}

// Run is one finished run of a study: its results file.
type Run struct {
	// Config, Seed and Steps are the configuration name, seed and length of
	// the run, from its file name (and checked against its results).
	Config string
	Seed   int64
	Steps  int
	// Path is the results file; Results its content.
	Path    string
	Results *charlm.Results
}

// Dir is what a study directory holds.
type Dir struct {
	// Runs are the finished runs, sorted by configuration and seed.
	Runs []Run
	// InProgress lists the runs started but without results: their results
	// being written (".json.tmp"), or a log ("<run>.log", as
	// a run in training writes) without results.
	InProgress []string
	// Ignored lists files that look like results but cannot be used, with why.
	Ignored []string
}

// LoadDir reads every results file of dir. Files that do not decode, or whose
// results contradict their name (seed, steps), are listed as ignored rather
// than failing the whole study.
func LoadDir(dir string) (*Dir, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("reading the study directory: %w", err)
	}
	ld := &Dir{}
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() {
			continue
		}
		if base, ok := strings.CutSuffix(name, ".tmp"); ok && resultsName.MatchString(base) {
			ld.InProgress = append(ld.InProgress, strings.TrimSuffix(base, ".json")+" (results being written)")
			continue
		}
		if base, ok := strings.CutSuffix(name, ".log"); ok && resultsName.MatchString(base+".json") {
			if _, err := os.Stat(filepath.Join(dir, base+".json")); os.IsNotExist(err) {
				ld.InProgress = append(ld.InProgress, base+" (log, no results yet: running or stopped)")
			}
			continue
		}
		m := resultsName.FindStringSubmatch(name)
		if m == nil {
			continue // Logs, tables, plots.
		}
		seed, errSeed := strconv.ParseInt(m[2], 10, 64)
		steps, errSteps := strconv.Atoi(m[3])
		if errSeed != nil || errSteps != nil {
			ld.Ignored = append(ld.Ignored, name+": seed or steps out of range")
			continue
		}
		r := Run{Config: m[1], Seed: seed, Steps: steps, Path: filepath.Join(dir, name)}
		if r.Results, err = ReadResults(r.Path); err != nil {
			ld.Ignored = append(ld.Ignored, fmt.Sprintf("%s: %v", name, err))
			continue
		}
		if tc := r.Results.Config.Train; tc.Seed != seed || tc.Steps != steps {
			ld.Ignored = append(ld.Ignored, fmt.Sprintf("%s: its results are of seed %d, %d steps", name, tc.Seed, tc.Steps))
			continue
		}
		ld.Runs = append(ld.Runs, r)
	}
	sort.Slice(ld.Runs, func(i, j int) bool {
		a, b := ld.Runs[i], ld.Runs[j]
		if a.Config != b.Config {
			return a.Config < b.Config
		}
		return a.Seed < b.Seed
	})
	return ld, nil
}

// ReadResults decodes a charlm results JSON file; results without any
// validation loss are an error.
func ReadResults(path string) (*charlm.Results, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r charlm.Results
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("not a charlm results file: %w", err)
	}
	if len(r.ValLoss) == 0 {
		return nil, fmt.Errorf("no validation loss")
	}
	return &r, nil
}

// chooseSteps returns the run length to aggregate: want if > 0, otherwise the
// length with the most runs (the longest of those tied).
func chooseSteps(runs []Run, want int) int {
	if want > 0 {
		return want
	}
	counts := map[int]int{}
	best := 0
	for _, r := range runs {
		counts[r.Steps]++
		if c, b := counts[r.Steps], counts[best]; c > b || (c == b && r.Steps > best) {
			best = r.Steps
		}
	}
	return best
}
