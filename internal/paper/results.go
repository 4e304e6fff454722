package paper

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/ggprior/ggprior/internal/outfile"
)

// Claim is one claim of the paper as a stage measured it.
type Claim struct {
	// Claim states it, e.g. "GG initialization converges faster than normal(0, 0.02)".
	Claim string `json:"claim"`
	// Criterion is what this command checks, e.g. "a GG configuration
	// reaches the baseline's mean final loss before the last step".
	Criterion string `json:"criterion"`
	// Measured gives the numbers the verdict rests on.
	Measured string `json:"measured"`
	// Reproduced is "yes", "no" or "not measured" (the profile or the data
	// lacks what the criterion needs).
	Reproduced string `json:"reproduced"`
}

// Verdicts of a Claim.
const (
	Yes         = "yes"
	No          = "no"
	NotMeasured = "not measured"
)

// verdict returns Yes or No.
func verdict(ok bool) string {
	if ok {
		return Yes
	}
	return No
}

// Table is a markdown table of a stage, with its caption and the charlm
// commands that re-run its rows.
type Table struct {
	Caption  string `json:"caption"`
	Markdown string `json:"markdown"`
	// Commands re-run the rows: one per row (configuration), for its first
	// seed.
	Commands []Command `json:"commands,omitempty"`
}

// Command re-runs one row of a table.
type Command struct {
	Row     string `json:"row"`
	Command string `json:"command"`
}

// Figure is a PNG file of a stage, relative to the output directory.
type Figure struct {
	File    string `json:"file"`
	Caption string `json:"caption"`
}

// StageResult is what a stage produced: its claims with their verdicts, its
// tables, figures and notes, and every number it measured (Data).
type StageResult struct {
	Stage string `json:"stage"`
	Title string `json:"title"`
	// Skipped, if not empty, says why the stage could not run (e.g. data not
	// available offline); such a stage runs again next time.
	Skipped string   `json:"skipped,omitempty"`
	Claims  []Claim  `json:"claims,omitempty"`
	Tables  []Table  `json:"tables,omitempty"`
	Figures []Figure `json:"figures,omitempty"`
	Notes   []string `json:"notes,omitempty"`
	// Seconds is the wall time of the stage; Finished when it finished.
	Seconds  float64   `json:"seconds"`
	Finished time.Time `json:"finished"`
	// TrainingSeconds estimates the training time of the stage's Runs,
	// whenever they were trained (this invocation or an earlier one): the
	// sum of their steps times their median step time. Seconds alone says
	// little when the runs were reused.
	TrainingSeconds float64 `json:"training_seconds,omitempty"`
	Runs            int     `json:"runs,omitempty"`
	// Data holds every number of the stage (summaries, per-run measurements).
	Data any `json:"data,omitempty"`
}

// ResultsFile is results.json: the profile and every finished stage.
type ResultsFile struct {
	// Profile, Steps and Seeds are the profile the stages ran at.
	Profile string  `json:"profile"`
	Steps   int     `json:"steps"`
	Seeds   []int64 `json:"seeds"`
	// ValWindows is the profile's validation subset (0: every window).
	ValWindows int `json:"val_windows,omitempty"`
	// Notice is the profile's warning ("" for a full profile).
	Notice string `json:"notice,omitempty"`
	// Runs and Checkpoints are the directories of the runs' results and checkpoints.
	Runs        string `json:"runs"`
	Checkpoints string `json:"checkpoints"`
	// Stages holds each finished stage's results, by stage name.
	Stages map[string]*StageResult `json:"stages"`
}

// resultsFileName and reportFileName are the output files in the output directory.
const (
	resultsFileName = "results.json"
	reportFileName  = "report.md"
	figuresDir      = "figures"
)

// readResultsFile reads results.json from dir (an empty ResultsFile if it does not exist).
func readResultsFile(dir string) (*ResultsFile, error) {
	path := filepath.Join(dir, resultsFileName)
	data, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return &ResultsFile{Stages: map[string]*StageResult{}}, nil
	}
	if err != nil {
		return nil, err
	}
	var rf ResultsFile
	if err := json.Unmarshal(data, &rf); err != nil {
		return nil, fmt.Errorf("%s is not a results file of this command: %w", path, err)
	}
	if rf.Stages == nil {
		rf.Stages = map[string]*StageResult{}
	}
	return &rf, nil
}

// write writes results.json into dir, through a temporary file renamed into
// place: an interrupted write never loses the stages already there.
func (rf *ResultsFile) write(dir string) error {
	data, err := json.MarshalIndent(rf, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding the results: %w", err)
	}
	return writeAtomically(filepath.Join(dir, resultsFileName), append(data, '\n'))
}

// writeAtomically writes data to path whole (outfile.WriteFile: a temporary
// file in the same directory, synced, renamed into place).
func writeAtomically(path string, data []byte) error {
	return outfile.WriteFile(path, data, 0o644)
}
