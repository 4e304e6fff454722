package paper

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/ggprior/ggprior/internal/study"
)

// writeReport writes report.md from the results: the profile's notice, a
// summary of every claim's verdict, then a section per stage with its
// claims ("reproduced: yes/no (criterion; measured numbers)"), tables (the
// baseline's row beside each method's), figures, the charlm commands that
// re-run each row, and notes.
func writeReport(out string, rf *ResultsFile) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# The paper's claims, reproduced (profile %s)\n\n", rf.Profile)
	if rf.Notice != "" {
		fmt.Fprintf(&b, "> **%s.**\n\n", rf.Notice)
	}
	command := fmt.Sprintf("go run ./examples/paper -profile %s -out %s", rf.Profile, out)
	if rf.Runs != filepath.Join(out, "runs") {
		command += " -runs " + rf.Runs
	}
	if rf.Checkpoints != filepath.Join(out, "checkpoints") {
		command += " -checkpoints " + rf.Checkpoints
	}
	fmt.Fprintf(&b, "Written by `%s` (pure-Go backend; data: Newton's Opticks from GOROOT). "+
		"charlm runs of %d steps, seeds %s", command, rf.Steps, study.JoinSeeds(rf.Seeds))
	if rf.ValWindows > 0 {
		fmt.Fprintf(&b, "; validation loss on %d evenly spaced validation windows (of 886 for the benchmark's model), not all of them", rf.ValWindows)
	}
	fmt.Fprintf(&b, ". Their results are in `%s`, their checkpoints in `%s`; every number below is in `%s`.\n\n",
		rf.Runs, rf.Checkpoints, resultsFileName)

	var stages []*StageResult
	for _, st := range Stages {
		if r := rf.Stages[st.Name()]; r != nil {
			stages = append(stages, r)
		}
	}
	if len(stages) == 0 {
		b.WriteString("No stage has finished yet.\n")
		return writeAtomically(filepath.Join(out, reportFileName), []byte(b.String()))
	}
	b.WriteString("## Summary\n\n")
	summary := &study.Table{Header: []string{"stage", "claim", "reproduced"}, LeftColumns: 3}
	for _, r := range stages {
		if r.Skipped != "" {
			summary.AddRow(r.Stage, "(stage skipped: "+escapeCell(r.Skipped)+")", NotMeasured)
		}
		for _, c := range r.Claims {
			summary.AddRow(r.Stage, escapeCell(c.Claim), c.Reproduced)
		}
	}
	b.WriteString(summary.String())
	b.WriteString("\n")

	for _, r := range stages {
		fmt.Fprintf(&b, "## %s (stage %s)\n\n", r.Title, r.Stage)
		if r.Skipped != "" {
			fmt.Fprintf(&b, "Skipped: %s\n\n", r.Skipped)
			continue
		}
		for _, c := range r.Claims {
			fmt.Fprintf(&b, "- **%s** — reproduced: **%s** (%s; %s)\n", c.Claim, c.Reproduced, c.Criterion, c.Measured)
		}
		if len(r.Claims) > 0 {
			b.WriteString("\n")
		}
		for _, t := range r.Tables {
			fmt.Fprintf(&b, "%s\n\n%s\n", t.Caption, t.Markdown)
			if len(t.Commands) > 0 {
				b.WriteString("Commands that re-run each row (first seed; for the others change `-seed`):\n\n")
				for _, c := range t.Commands {
					fmt.Fprintf(&b, "- %s: `%s`\n", c.Row, c.Command)
				}
				b.WriteString("\n")
			}
		}
		for _, f := range r.Figures {
			fmt.Fprintf(&b, "![%s](%s)\n\n", f.Caption, f.File)
		}
		for _, n := range r.Notes {
			fmt.Fprintf(&b, "- %s\n", n)
		}
		if len(r.Notes) > 0 {
			b.WriteString("\n")
		}
		fmt.Fprintf(&b, "_%s._\n\n", stageTime(r))
	}
	return writeAtomically(filepath.Join(out, reportFileName), []byte(strings.TrimRight(b.String(), "\n")+"\n"))
}

// escapeCell makes text safe in a markdown table cell.
func escapeCell(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "|", `\|`), "\n", " ")
}

// stageTime describes the time a stage took: the wall time of the
// invocation that finished it and, when it has runs, their training time
// whenever they were trained.
func stageTime(r *StageResult) string {
	s := "Stage time: " + formatSeconds(r.Seconds)
	if r.Runs > 0 {
		plural := "s"
		if r.Runs == 1 {
			plural = ""
		}
		s += fmt.Sprintf("; training time of its %d run%s (steps × median step time, whenever trained): %s",
			r.Runs, plural, formatSeconds(r.TrainingSeconds))
	}
	return s
}
