package main

import (
	"fmt"
	"io"
	"strings"
)

// writeMarkdown writes the study's table and notes as markdown: one row per
// configuration with the validation loss at each evaluation step (mean ± sample
// standard deviation over seeds), the steps to reach the baseline's mean final
// loss and the final loss difference from the baseline; then what is missing,
// in progress or ignored. plotFile, if not empty, is linked.
func writeMarkdown(w io.Writer, s *studySummary, plotFile string) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# GG initialization study: charlm, %d steps\n\n", s.Steps)
	runs := 0
	for _, c := range s.Configs {
		runs += len(c.Seeds)
	}
	fmt.Fprintf(&b, "%s, %s, from %s.", plural(len(s.Configs), "configuration"), plural(runs, "run"), s.Dir)
	if s.Note != "" {
		fmt.Fprintf(&b, " Note: %s.", s.Note)
	}
	b.WriteString(" Validation loss in nats per byte, mean ± sample standard deviation over seeds.")
	target := "baseline final"
	if s.BaselineFinal != nil {
		target = fmt.Sprintf("%s final (%.4f)", s.Baseline, s.BaselineFinal.Mean)
		fmt.Fprintf(&b, " Steps to %s: where the mean validation curve first reaches it, linearly interpolated between evaluations.", target)
	} else {
		fmt.Fprintf(&b, " No %s runs: nothing to compare with.", s.Baseline)
	}
	b.WriteString("\n\n")

	header := []string{"config", "init", "seeds"}
	for _, step := range s.EvalSteps {
		header = append(header, fmt.Sprintf("val@%d", step))
	}
	header = append(header, "steps to "+target, "final vs "+s.Baseline)
	writeRow(&b, header)
	sep := make([]string, len(header))
	for i := range sep {
		sep[i] = "---"
		if i >= 2 {
			sep[i] = "--:"
		}
	}
	writeRow(&b, sep)
	for _, c := range s.Configs {
		row := []string{c.Name, formatInit(c), formatSeeds(c.Seeds)}
		for _, step := range s.EvalSteps {
			row = append(row, formatLoss(c, step))
		}
		row = append(row, formatStepsTo(c, s), formatDiff(c, s))
		writeRow(&b, row)
	}
	b.WriteString("\n")
	if plotFile != "" {
		fmt.Fprintf(&b, "![validation loss (markers) and smoothed training loss (thin) per configuration](%s)\n\n", plotFile)
	}
	for _, c := range s.Configs {
		for _, n := range c.Notes {
			fmt.Fprintf(&b, "- note, %s: %s\n", c.Name, n)
		}
	}
	if len(s.Missing) > 0 {
		var parts []string
		for _, m := range s.Missing {
			parts = append(parts, fmt.Sprintf("%s (seed %s)", m.Config, joinSeeds(m.Seeds)))
		}
		fmt.Fprintf(&b, "- missing: %s\n", strings.Join(parts, ", "))
	}
	if len(s.InProgress) > 0 {
		fmt.Fprintf(&b, "- in progress: %s\n", strings.Join(s.InProgress, ", "))
	}
	for _, ig := range s.Ignored {
		fmt.Fprintf(&b, "- ignored: %s\n", ig)
	}
	_, err := io.WriteString(w, strings.TrimRight(b.String(), "\n")+"\n")
	return err
}

// writeRow writes one markdown table row.
func writeRow(b *strings.Builder, cells []string) {
	b.WriteString("| " + strings.Join(cells, " | ") + " |\n")
}

// formatInit describes a configuration's initialization, e.g. "gg β=1.4".
func formatInit(c *configSummary) string {
	if c.Beta == "" {
		return c.Init
	}
	return c.Init + " β=" + c.Beta
}

// formatSeeds gives the number of seeds and the seeds: "3 (1,2,3)".
func formatSeeds(seeds []int64) string {
	return fmt.Sprintf("%d (%s)", len(seeds), joinSeeds(seeds))
}

// joinSeeds joins seeds with commas.
func joinSeeds(seeds []int64) string {
	parts := make([]string, len(seeds))
	for i, s := range seeds {
		parts[i] = fmt.Sprint(s)
	}
	return strings.Join(parts, ",")
}

// formatLoss gives the validation loss of c at step: "1.2345 ± 0.0123",
// without spread for one seed, with the count when fewer seeds than c's have
// it, "—" when none has.
func formatLoss(c *configSummary, step int) string {
	for _, e := range c.ValLoss {
		if e.Step != step {
			continue
		}
		s := fmt.Sprintf("%.4f", e.Mean)
		if e.N > 1 {
			s += fmt.Sprintf(" ± %.4f", e.Std)
		}
		if e.N < len(c.Seeds) {
			s += fmt.Sprintf(" (n=%d)", e.N)
		}
		return s
	}
	return "—"
}

// formatStepsTo gives the steps c takes to reach the baseline's final loss.
func formatStepsTo(c *configSummary, s *studySummary) string {
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

// formatDiff gives c's final loss difference from the baseline, in percent.
func formatDiff(c *configSummary, s *studySummary) string {
	switch {
	case c.FinalDiffPct == nil:
		return "—"
	case c.Name == s.Baseline:
		return "baseline"
	}
	return fmt.Sprintf("%+.2f%%", *c.FinalDiffPct)
}

// plural returns "n noun" with an "s" unless n is 1.
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
