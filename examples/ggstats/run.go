package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/ggprior/ggprior/internal/distfit"
	"github.com/ggprior/ggprior/internal/outfile"
	"github.com/ggprior/ggprior/internal/tensorkind"
)

// run reads the tensors cfg names, analyzes them, and writes the table and
// summary to stdout, the JSON and plots where cfg asks. Tensors that cannot be
// analyzed (not float, too small, not fittable) are skipped and counted; errors
// reading the source are returned, and so is an error when no tensor at all
// was analyzed (after the table and the JSON, which list the skipped ones).
func run(cfg config, stdout, stderr io.Writer) error {
	if err := checkOutputs(cfg); err != nil {
		return err
	}
	if cfg.fitBetas != "" {
		return runFitBetas(cfg.fitBetas, stdout, stderr)
	}
	if cfg.codedSize != "" {
		return runCodedSize(cfg.codedSize, cfg.jsonPath, stdout, stderr)
	}
	var items []item
	var source string
	switch {
	case cfg.safetensors != "":
		var closeFn func() error
		var err error
		if items, closeFn, err = safetensorsItems(cfg.safetensors); err != nil {
			return err
		}
		defer func() { _ = closeFn() }()
		source = "safetensors " + cfg.safetensors
	case len(cfg.capture) > 0: // With -checkpoint, where the live run starts.
		var err error
		if items, source, err = captureItems(cfg, stderr); err != nil {
			return err
		}
	default:
		var err error
		if items, err = checkpointItems(cfg.checkpoint, cfg.allVars); err != nil {
			return err
		}
		source = "GoMLX checkpoint " + cfg.checkpoint
	}
	if cfg.plotsDir != "" {
		if err := os.MkdirAll(cfg.plotsDir, 0o755); err != nil {
			return fmt.Errorf("-plots: %w", err)
		}
	}

	opts := cfg.options()
	result := distfit.Result{Source: source, Options: opts}
	var selected []item
	skipCounts := map[string]int{}
	skip := func(name, reason, category string) {
		result.Skipped = append(result.Skipped, distfit.Skip{Name: name, Reason: reason})
		skipCounts[category]++
	}
	for _, it := range items {
		switch {
		case cfg.match != nil && !cfg.match.MatchString(it.name):
			continue
		case it.skip != "":
			skip(it.name, it.skip, it.skip)
		case it.size < cfg.minSize:
			skip(it.name, fmt.Sprintf("%d elements, below -min-size %d", it.size, cfg.minSize), "below -min-size")
		default:
			selected = append(selected, it)
		}
	}
	sampleNote := "all values"
	if opts.SampleSize > 0 {
		sampleNote = fmt.Sprintf("up to %d values each, seed %d", opts.SampleSize, opts.Seed)
	}
	fmt.Fprintf(stdout, "%s: %d tensors, analyzing %d (%s)\n\n", source, len(items), len(selected), sampleNote)

	names := make([]string, len(selected))
	for i, it := range selected {
		names[i] = it.name
	}
	table := distfit.NewTable(stdout, names)
	if len(selected) > 0 {
		if err := table.Header(); err != nil {
			return err
		}
	}
	plots := newPlotNamer(cfg.plotsDir)
	multiKind := sortByKind(selected)
	for i, it := range selected {
		if multiKind && (i == 0 || selected[i-1].kind != it.kind) {
			fmt.Fprintf(stdout, "[%s]\n", it.kind)
		}
		itemOpts := opts
		itemOpts.Kind = it.kind
		var indices []int
		if !it.sampled {
			indices = itemOpts.Indices(it.name, it.size)
		}
		values, err := it.fetch(indices)
		if err != nil {
			return err
		}
		r, err := distfit.AnalyzeSample(it.name, values, it.size, itemOpts)
		if err != nil {
			skip(it.name, err.Error(), "not fittable")
			if err := table.Skip(it.name, err.Error()); err != nil {
				return err
			}
			continue
		}
		r.Shape = it.shape
		if err := table.Row(r); err != nil {
			return err
		}
		if cfg.plotsDir != "" {
			if err := distfit.PlotTensor(plots.path(it.kind, it.name), values, r); err != nil {
				return err
			}
		}
		result.Reports = append(result.Reports, r)
	}

	result.Summary = distfit.Summarize(result.Reports)
	fmt.Fprintf(stdout, "\n%s\n", result.Summary)
	if len(skipCounts) > 0 {
		fmt.Fprintf(stdout, "skipped %d tensors: %s\n", len(result.Skipped), formatCounts(skipCounts))
	}
	if cfg.plotsDir != "" && len(result.Reports) > 0 {
		betas := filepath.Join(cfg.plotsDir, "betas.png")
		if err := distfit.PlotBetas(betas, result.Reports, "fitted shape per tensor: "+filepath.Base(source)); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "plots written to %s\n", cfg.plotsDir)
	}
	if cfg.jsonPath != "" {
		if err := writeJSONFile(cfg.jsonPath, result); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "JSON written to %s\n", cfg.jsonPath)
	}
	if len(result.Reports) == 0 {
		return nothingAnalyzed(cfg, len(items), len(result.Skipped), skipCounts)
	}
	return nil
}

// nothingAnalyzed returns the error of a run that analyzed no tensor: the
// source's n tensors matched nothing, or the skipped ones were all skipped.
func nothingAnalyzed(cfg config, n, skipped int, skipCounts map[string]int) error {
	switch {
	case n == 0:
		return fmt.Errorf("nothing analyzed: the source holds no tensor")
	case skipped == 0 && cfg.match != nil:
		return fmt.Errorf("nothing analyzed: no tensor of the %d matches -match %q", n, cfg.match)
	}
	return fmt.Errorf("nothing analyzed: all %d tensors were skipped (%s)", skipped, formatCounts(skipCounts))
}

// sortByKind sorts items by kind, in the order of tensorkind.All, keeping the
// order within a kind, and reports whether there is more than one kind.
func sortByKind(items []item) bool {
	rank := func(kind string) int { return slices.Index(tensorkind.All, kind) }
	slices.SortStableFunc(items, func(a, b item) int { return rank(a.kind) - rank(b.kind) })
	return len(items) > 0 && items[0].kind != items[len(items)-1].kind
}

// formatCounts returns counts as "reason (n), ..." in decreasing count order.
func formatCounts(counts map[string]int) string {
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if counts[keys[i]] != counts[keys[j]] {
			return counts[keys[i]] > counts[keys[j]]
		}
		return keys[i] < keys[j]
	})
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s (%d)", k, counts[k])
	}
	return strings.Join(parts, ", ")
}

// checkOutputs checks, before any work, that the -json file and the -plots
// directory can be written.
func checkOutputs(cfg config) error {
	if cfg.jsonPath != "" {
		if err := outfile.CheckFile(cfg.jsonPath); err != nil {
			return fmt.Errorf("-json: %w", err)
		}
	}
	if cfg.plotsDir != "" {
		if err := outfile.CheckDir(cfg.plotsDir); err != nil {
			return fmt.Errorf("-plots: %w", err)
		}
	}
	return nil
}

// writeJSONFile writes result as JSON to the file at path, whole (outfile.Write).
func writeJSONFile(path string, result distfit.Result) error {
	err := outfile.Write(path, 0o644, func(w io.Writer) error { return distfit.WriteJSON(w, result) })
	if err != nil {
		return fmt.Errorf("-json: %w", err)
	}
	return nil
}

// plotNamer gives each plot a distinct file name in dir.
type plotNamer struct {
	dir  string
	used map[string]bool
}

// newPlotNamer returns a plotNamer for dir, with "betas.png" reserved.
func newPlotNamer(dir string) *plotNamer {
	return &plotNamer{dir: dir, used: map[string]bool{"betas.png": true}}
}

// path returns the plot path of a tensor: its sanitized name (prefixed by its
// kind unless weights), with a numeric suffix if already taken.
func (p *plotNamer) path(kind, name string) string {
	if kind != tensorkind.Weights {
		name = kind + "_" + strings.TrimLeft(name, "/")
	}
	file := distfit.PlotFileName(name, ".png")
	for i := 2; p.used[file]; i++ {
		file = distfit.PlotFileName(fmt.Sprintf("%s_%d", name, i), ".png")
	}
	p.used[file] = true
	return filepath.Join(p.dir, file)
}
