package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/ggprior/ggprior/examples/charlm/charlm"
)

// resultsName matches the name of a results file: <config>-seed<S>-steps<N>.json.
var resultsName = regexp.MustCompile(`^(.+)-seed(\d+)-steps(\d+)\.json$`)

// resultsFileName returns the name of the results file of a run.
func resultsFileName(config string, seed int64, steps int) string {
	return fmt.Sprintf("%s-seed%d-steps%d.json", config, seed, steps)
}

// run is one finished run of the study: its results file.
type run struct {
	config  string
	seed    int64
	steps   int
	path    string
	results *charlm.Results
}

// loadedDir is what a study directory holds.
type loadedDir struct {
	runs []run
	// inProgress lists the runs started but without results: their results
	// being written (".json.tmp"), or a log ("<run>.log", as
	// study/run_init_study.sh writes) without results.
	inProgress []string
	// ignored lists files that look like results but cannot be used, with why.
	ignored []string
}

// loadDir reads every results file of dir. Files that do not decode, or whose
// results contradict their name (seed, steps), are listed as ignored rather
// than failing the whole study.
func loadDir(dir string) (*loadedDir, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("initstudy: reading the study directory: %w", err)
	}
	ld := &loadedDir{}
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() {
			continue
		}
		if base, ok := strings.CutSuffix(name, ".tmp"); ok && resultsName.MatchString(base) {
			ld.inProgress = append(ld.inProgress, strings.TrimSuffix(base, ".json")+" (results being written)")
			continue
		}
		if base, ok := strings.CutSuffix(name, ".log"); ok && resultsName.MatchString(base+".json") {
			if _, err := os.Stat(filepath.Join(dir, base+".json")); os.IsNotExist(err) {
				ld.inProgress = append(ld.inProgress, base+" (log, no results yet: running or stopped)")
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
			ld.ignored = append(ld.ignored, name+": seed or steps out of range")
			continue
		}
		r := run{config: m[1], seed: seed, steps: steps, path: filepath.Join(dir, name)}
		if r.results, err = readResults(r.path); err != nil {
			ld.ignored = append(ld.ignored, fmt.Sprintf("%s: %v", name, err))
			continue
		}
		if tc := r.results.Config.Train; tc.Seed != seed || tc.Steps != steps {
			ld.ignored = append(ld.ignored, fmt.Sprintf("%s: its results are of seed %d, %d steps", name, tc.Seed, tc.Steps))
			continue
		}
		ld.runs = append(ld.runs, r)
	}
	sort.Slice(ld.runs, func(i, j int) bool {
		a, b := ld.runs[i], ld.runs[j]
		if a.config != b.config {
			return a.config < b.config
		}
		return a.seed < b.seed
	})
	return ld, nil
}

// readResults decodes a charlm results JSON file.
func readResults(path string) (*charlm.Results, error) {
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
func chooseSteps(runs []run, want int) int {
	if want > 0 {
		return want
	}
	counts := map[int]int{}
	best := 0
	for _, r := range runs {
		counts[r.steps]++
		if c, b := counts[r.steps], counts[best]; c > b || (c == b && r.steps > best) {
			best = r.steps
		}
	}
	return best
}
