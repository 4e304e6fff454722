package study

import (
	"fmt"
	"github.com/ggprior/ggprior/internal/stats"
	"io"
	"math"
	"strings"
)

// Table is a markdown table: a header row, then rows of cells.
type Table struct {
	Header []string
	Rows   [][]string
	// LeftColumns is the number of first columns aligned left (names); the
	// others are aligned right (numbers).
	LeftColumns int
}

// AddRow appends a row of cells.
func (t *Table) AddRow(cells ...string) { t.Rows = append(t.Rows, cells) }

// String returns the table in markdown, one line per row, each ending in a newline.
func (t *Table) String() string {
	var b strings.Builder
	writeRow(&b, t.Header)
	sep := make([]string, len(t.Header))
	for i := range sep {
		sep[i] = "---"
		if i >= t.LeftColumns {
			sep[i] = "--:"
		}
	}
	writeRow(&b, sep)
	for _, row := range t.Rows {
		writeRow(&b, row)
	}
	return b.String()
}

// writeRow writes one markdown table row.
func writeRow(b *strings.Builder, cells []string) {
	b.WriteString("| " + strings.Join(cells, " | ") + " |\n")
}

// LossTable returns the study's table: one row per configuration with its
// initialization, seeds, the validation loss at each evaluation step (mean ±
// sample standard deviation over seeds), the steps to reach the baseline's
// mean final loss, the final loss difference from the baseline, and the
// paired difference (see FormatPaired).
func LossTable(s *Summary) *Table {
	t := &Table{Header: []string{"config", "init", "seeds"}, LeftColumns: 2}
	for _, step := range s.EvalSteps {
		t.Header = append(t.Header, fmt.Sprintf("val@%d", step))
	}
	t.Header = append(t.Header, "steps to "+baselineTarget(s), "final vs "+s.Baseline, "paired Δ final (t)")
	for _, c := range s.Configs {
		row := []string{c.Name, formatInit(c), FormatSeeds(c.Seeds)}
		for _, step := range s.EvalSteps {
			row = append(row, formatLoss(c, step))
		}
		t.AddRow(append(row, FormatStepsTo(c, s), FormatDiff(c, s), FormatPaired(c))...)
	}
	return t
}

// baselineTarget names the baseline's final loss: "normal02 final (1.7330)".
func baselineTarget(s *Summary) string {
	if s.BaselineFinal == nil {
		return "baseline final"
	}
	return fmt.Sprintf("%s final (%.4f)", s.Baseline, s.BaselineFinal.Mean)
}

// writeMarkdown writes the study as markdown: the title (a "# " heading, if
// not empty), a paragraph saying what the numbers are, the LossTable, the
// plot (plotFile, linked if not empty), then the Notes.
func writeMarkdown(w io.Writer, s *Summary, title, plotFile string) error {
	var b strings.Builder
	if title != "" {
		fmt.Fprintf(&b, "# %s\n\n", title)
	}
	runs := 0
	for _, c := range s.Configs {
		runs += len(c.Seeds)
	}
	fmt.Fprintf(&b, "%s, %s, from %s.", Plural(len(s.Configs), "configuration"), Plural(runs, "run"), s.Dir)
	if s.Note != "" {
		fmt.Fprintf(&b, " Note: %s.", s.Note)
	}
	b.WriteString(" Validation loss in nats per byte, mean ± sample standard deviation over seeds.")
	if s.BaselineFinal != nil {
		fmt.Fprintf(&b, " Steps to %s: where the mean validation curve first reaches it, linearly interpolated between evaluations.", baselineTarget(s))
		fmt.Fprintf(&b, " Paired Δ final: the final loss minus %s's at the same seed (the seed fixes the order of the training batches), mean ± standard deviation over the common seeds, and its t statistic (n-1 degrees of freedom: |t| > 4.30 is significant at 5%% with 3 seeds, > 12.7 with 2).", s.Baseline)
	} else {
		fmt.Fprintf(&b, " No %s runs: nothing to compare with.", s.Baseline)
	}
	b.WriteString("\n\n")
	b.WriteString(LossTable(s).String())
	b.WriteString("\n")
	if plotFile != "" {
		fmt.Fprintf(&b, "![validation loss (markers) and smoothed training loss (thin) per configuration](%s)\n\n", plotFile)
	}
	for _, n := range Notes(s) {
		fmt.Fprintf(&b, "- %s\n", n)
	}
	_, err := io.WriteString(w, strings.TrimRight(b.String(), "\n")+"\n")
	return err
}

// Notes returns what the summary's table does not show, one line each:
// notes on inconsistent runs, the runs missing, in progress or ignored.
func Notes(s *Summary) []string {
	var notes []string
	for _, c := range s.Configs {
		for _, n := range c.Notes {
			notes = append(notes, fmt.Sprintf("note, %s: %s", c.Name, n))
		}
	}
	if len(s.Missing) > 0 {
		var parts []string
		for _, m := range s.Missing {
			parts = append(parts, fmt.Sprintf("%s (seed %s)", m.Config, JoinSeeds(m.Seeds)))
		}
		notes = append(notes, "missing: "+strings.Join(parts, ", "))
	}
	if len(s.InProgress) > 0 {
		notes = append(notes, "in progress: "+strings.Join(s.InProgress, ", "))
	}
	for _, ig := range s.Ignored {
		notes = append(notes, "ignored: "+ig)
	}
	return notes
}

// formatInit describes a configuration's initialization, e.g. "gg β=1.4".
func formatInit(c *ConfigSummary) string {
	if c.Beta == "" {
		return c.Init
	}
	return c.Init + " β=" + c.Beta
}

// FormatSeeds gives the number of seeds and the seeds: "3 (1,2,3)".
func FormatSeeds(seeds []int64) string {
	return fmt.Sprintf("%d (%s)", len(seeds), JoinSeeds(seeds))
}

// JoinSeeds joins seeds with commas.
func JoinSeeds(seeds []int64) string {
	parts := make([]string, len(seeds))
	for i, s := range seeds {
		parts[i] = fmt.Sprint(s)
	}
	return strings.Join(parts, ",")
}

// FormatMeanStd gives m with the given number of decimals: "1.2345 ±
// 0.0123", without spread for one value, "—" for none.
func FormatMeanStd(m stats.MeanStd, decimals int) string {
	switch m.N {
	case 0:
		return "—"
	case 1:
		return fmt.Sprintf("%.*f", decimals, m.Mean)
	}
	return fmt.Sprintf("%.*f ± %.*f", decimals, m.Mean, decimals, m.Std)
}

// formatLoss gives the validation loss of c at step: "1.2345 ± 0.0123",
// without spread for one seed, with the count when fewer seeds than c's have
// it, "—" when none has.
func formatLoss(c *ConfigSummary, step int) string {
	for _, e := range c.ValLoss {
		if e.Step != step {
			continue
		}
		s := FormatMeanStd(e.MeanStd, 4)
		if e.N < len(c.Seeds) {
			s += fmt.Sprintf(" (n=%d)", e.N)
		}
		return s
	}
	return "—"
}

// FormatStepsTo gives the steps c takes to reach the baseline's final loss.
func FormatStepsTo(c *ConfigSummary, s *Summary) string {
	switch {
	case s.BaselineFinal == nil:
		return "no baseline"
	case c.StepsToBaseline == nil:
		return "not reached"
	case c.AtFirstEval:
		return fmt.Sprintf("≤ %.0f", *c.StepsToBaseline)
	}
	return fmt.Sprintf("%.0f", *c.StepsToBaseline)
}

// FormatDiff gives c's final loss difference from the baseline, in percent.
func FormatDiff(c *ConfigSummary, s *Summary) string {
	switch {
	case c.FinalDiffPct == nil:
		return "—"
	case c.Name == s.Baseline:
		return "baseline"
	}
	return fmt.Sprintf("%+.2f%%", *c.FinalDiffPct)
}

// FormatPaired gives c's final loss minus the baseline's at the same seeds,
// mean ± sample standard deviation over those seeds and the t statistic of
// the mean (N-1 degrees of freedom; with 3 seeds |t| > 4.30 is significant
// at 5%), e.g. "-0.0061 ± 0.0020 (t -5.3)"; "—" without pairs.
func FormatPaired(c *ConfigSummary) string {
	if c.PairedDiff == nil {
		return "—"
	}
	d := *c.PairedDiff
	if t := d.T(); !math.IsNaN(t) {
		return fmt.Sprintf("%+.4f ± %.4f (t %+.1f)", d.Mean, d.Std, t)
	}
	return fmt.Sprintf("%+.4f (1 seed)", d.Mean)
}

// Plural returns "n noun" with an "s" unless n is 1.
func Plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
