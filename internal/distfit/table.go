package distfit

import (
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Table prints tensor reports as a text table, one row at a time (so a long run
// shows its progress): name, shape, size, layer kind, beta by moment ratio and
// by maximum likelihood, the KS distance of each model and the best model.
type Table struct {
	w         io.Writer
	nameWidth int
	err       error
}

// NewTable returns a Table writing to w, with the name column wide enough for
// every name in names (at most 60 characters; longer names are shortened from
// the left).
func NewTable(w io.Writer, names []string) *Table {
	width := len("tensor")
	for _, n := range names {
		width = max(width, len(n))
	}
	return &Table{w: w, nameWidth: min(width, 60)}
}

// Header writes the header line.
func (t *Table) Header() error {
	return t.printf("%-*s %-14s %10s %-9s %8s %8s %8s %8s %8s  %s\n", t.nameWidth, "tensor",
		"shape", "size", "layer", "beta_mom", "beta_mle", "KS_gg", "KS_gauss", "KS_lapl", "best")
}

// Row writes the row of one report.
func (t *Table) Row(r TensorReport) error {
	best := r.Best
	if r.KS[ModelGG] >= r.KSCritical {
		best += " (GG rejected at 1%)"
	}
	return t.printf("%-*s %-14s %10d %-9s %8.3f %8.3f %8.4f %8.4f %8.4f  %s\n", t.nameWidth, t.shorten(r.Name),
		formatShape(r.Shape), r.N, r.Layer, r.Moment.Beta, r.MLE.Beta,
		r.KS[ModelGG], r.KS[ModelGaussian], r.KS[ModelLaplacian], best)
}

// Skip writes the line of a tensor that was not analyzed.
func (t *Table) Skip(name, reason string) error {
	return t.printf("%-*s skipped: %s\n", t.nameWidth, t.shorten(name), reason)
}

// printf writes to the table's writer, keeping the first error.
func (t *Table) printf(format string, args ...any) error {
	if t.err == nil {
		_, t.err = fmt.Fprintf(t.w, format, args...)
	}
	return t.err
}

// shorten cuts name to the name column's width, keeping its end.
func (t *Table) shorten(name string) string {
	if len(name) <= t.nameWidth {
		return name
	}
	return "..." + name[len(name)-t.nameWidth+3:]
}

// formatShape returns a shape as "768x2304" ("scalar" for no dimensions, "?" for
// an unknown shape).
func formatShape(shape []int) string {
	if shape == nil {
		return "?"
	}
	if len(shape) == 0 {
		return "scalar"
	}
	parts := make([]string, len(shape))
	for i, d := range shape {
		parts[i] = strconv.Itoa(d)
	}
	return strings.Join(parts, "x")
}

// writeTable writes reports as a table (header and one row each) to w.
func writeTable(w io.Writer, reports []TensorReport) error {
	names := make([]string, len(reports))
	for i, r := range reports {
		names[i] = r.Name
	}
	t := NewTable(w, names)
	if err := t.Header(); err != nil {
		return err
	}
	for _, r := range reports {
		if err := t.Row(r); err != nil {
			return err
		}
	}
	return nil
}
