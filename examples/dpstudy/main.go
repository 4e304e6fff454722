// Command dpstudy tabulates the data-parallel study of the charlm reference
// experiment: the runs that study/run_dp_study.sh makes (W in-process workers,
// each on its shard of every batch, exchanging gradients through a
// compressor), read from their results JSON ("<config>-seed<S>-steps<N>.json",
// config "w<W>-<compressor>").
//
//	go run ./examples/dpstudy -dir study/dp [-out study/dp]
//
// It prints, and with -out writes as dp-study.md, one row per run: the
// validation loss at each evaluation and its difference from the
// single-worker run of the same length, the bytes a worker sends per step
// (payload and framing, as exchanged), the coded bytes (what the compressor
// counts: GCT's Exp-Golomb payload, top-k's values and indices, PowerSGD's P
// and Q; the wire carries GCT's coded frames but the baselines' gradients
// decoded, as fp32) and their ratio to uncompressed fp32 gradients, the
// median time split of a step (compute, encode, exchange, decode, update; the
// in-process exchange is a memory copy), the codec's share of the step
// ((encode + decode) / step), and the time a step would take over 1, 10 and
// 100 Gbit/s links, computed from the coded bytes:
//
//	t(link) = compute + encode + decode + update + (W - 1) * coded bytes * 8 / link
//
// (a ring all-gather moves each worker's payload over W-1 links, one after
// the other, and every worker receives the W-1 others').
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/ggprior/ggprior/examples/charlm/charlm"
	"github.com/ggprior/ggprior/examples/study"
)

// markdownFile is the table's file name in -out.
const markdownFile = "dp-study.md"

// linkSpeeds are the link speeds of the modelled step times, in bits per second.
var linkSpeeds = []float64{1e9, 10e9, 100e9}

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "dpstudy:", err)
		os.Exit(2)
	}
}

func run(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("dpstudy", flag.ContinueOnError)
	dir := fs.String("dir", "study/dp", "directory of the runs' results")
	out := fs.String("out", "", "also write "+markdownFile+" into this directory")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	ld, err := study.LoadDir(*dir)
	if err != nil {
		return err
	}
	table, err := buildTable(ld)
	if err != nil {
		return err
	}
	text := table
	if len(ld.InProgress) > 0 {
		text += "\nin progress: " + strings.Join(ld.InProgress, ", ") + "\n"
	}
	if _, err := io.WriteString(stdout, text); err != nil {
		return err
	}
	if *out != "" {
		return os.WriteFile(filepath.Join(*out, markdownFile), []byte(text), 0o644)
	}
	return nil
}

// configName parses a data-parallel configuration name: "w<W>-<compressor>".
var configName = regexp.MustCompile(`^w(\d+)-(.+)$`)

// row is one run of the table.
type row struct {
	run      study.Run
	workers  int
	compress string
}

// buildTable returns the markdown table of the runs of ld whose configuration
// names a number of workers; the single-worker runs are the baselines of the
// runs of the same length and seed.
func buildTable(ld *study.Dir) (string, error) {
	var rows []row
	for _, r := range ld.Runs {
		m := configName.FindStringSubmatch(r.Config)
		if m == nil {
			continue
		}
		w, _ := strconv.Atoi(m[1])
		if got := workersOf(r.Results); got != w {
			return "", fmt.Errorf("%s: results of %d workers, its name says %d", r.Path, got, w)
		}
		rows = append(rows, row{run: r, workers: w, compress: r.Results.Config.Train.Compress})
	}
	if len(rows) == 0 {
		return "", fmt.Errorf("no data-parallel runs (w<W>-<compressor>-seed<S>-steps<N>.json) found")
	}
	sort.SliceStable(rows, func(i, j int) bool {
		a, b := rows[i], rows[j]
		if a.run.Steps != b.run.Steps {
			return a.run.Steps < b.run.Steps
		}
		if a.workers != b.workers {
			return a.workers < b.workers
		}
		return a.run.Config < b.run.Config
	})
	baseline := func(r row) *charlm.Results {
		for _, b := range rows {
			if b.workers == 1 && b.run.Steps == r.run.Steps && b.run.Seed == r.run.Seed {
				return b.run.Results
			}
		}
		return nil
	}
	fp32Bytes := func(r row) float64 { // 4 bytes per trainable parameter.
		return 4 * float64(r.run.Results.Params)
	}
	evalSteps := evalStepsOf(rows)
	t := &study.Table{Header: []string{"run", "W", "compress", "seed"}, LeftColumns: 3}
	for _, s := range evalSteps {
		t.Header = append(t.Header, fmt.Sprintf("val@%d", s))
	}
	t.Header = append(t.Header, "vs W=1", "bytes sent/worker/step", "coded bytes/worker/step", "coded vs fp32",
		"compute ms", "encode ms", "exchange ms", "decode ms", "update ms", "codec share")
	for _, link := range linkSpeeds {
		t.Header = append(t.Header, fmt.Sprintf("step ms @%g Gbit/s", link/1e9))
	}
	for _, r := range rows {
		res := r.run.Results
		cells := []string{r.run.Config, strconv.Itoa(r.workers), r.compress, strconv.FormatInt(r.run.Seed, 10)}
		for _, s := range evalSteps {
			cells = append(cells, formatLoss(res, s))
		}
		final := res.ValLoss[strconv.Itoa(r.run.Steps)]
		if b := baseline(r); b != nil && r.workers > 1 {
			cells = append(cells, fmt.Sprintf("%+.2f%%", 100*(final/b.ValLoss[strconv.Itoa(r.run.Steps)]-1)))
		} else {
			cells = append(cells, "-")
		}
		p := res.ParallelResults
		if p == nil {
			cells = append(cells, "-", "-", "-")
			for range 5 + 1 {
				cells = append(cells, "-")
			}
			step := 1000 * res.SecPerStepMedian
			for range linkSpeeds {
				cells = append(cells, fmt.Sprintf("%.1f", step))
			}
			t.AddRow(cells...)
			continue
		}
		sp := p.StepTimeSplit
		total := sp.Compute + sp.Encode + sp.Exchange + sp.Decode + sp.Update
		cells = append(cells, fmt.Sprintf("%.0f", p.BytesSentPerWorkerPerStep), fmt.Sprintf("%.0f", p.CodedBytesPerWorkerPerStep),
			fmt.Sprintf("%.2f%%", 100*p.CodedBytesPerWorkerPerStep/fp32Bytes(r)))
		for _, s := range []float64{sp.Compute, sp.Encode, sp.Exchange, sp.Decode, sp.Update} {
			cells = append(cells, fmt.Sprintf("%.1f", 1000*s))
		}
		cells = append(cells, fmt.Sprintf("%.1f%%", 100*(sp.Encode+sp.Decode)/total))
		for _, link := range linkSpeeds {
			cells = append(cells, fmt.Sprintf("%.1f", 1000*ModelledStep(sp, r.workers, p.CodedBytesPerWorkerPerStep, link)))
		}
		t.AddRow(cells...)
	}
	var b strings.Builder
	b.WriteString(t.String())
	b.WriteString("\nstep time over a link of L bit/s: compute + encode + decode + update + (W-1) * coded bytes * 8 / L " +
		"(ring all-gather); fp32 = 4 bytes per parameter; codec share = (encode + decode) / measured step; " +
		"bytes sent: as exchanged here (GCT's coded frames; the baselines' gradients decoded, as fp32).\n")
	return b.String(), nil
}

// ModelledStep returns the time in seconds of a data-parallel step of
// `workers` workers whose payloads are `bytes` each, over links of `link`
// bits per second: the measured compute, encode, decode and update, plus a
// ring all-gather's transfer, (W-1) payloads through each worker's link.
func ModelledStep(sp charlm.StepTimeSplit, workers int, bytes, link float64) float64 {
	return sp.Compute + sp.Encode + sp.Decode + sp.Update + float64(workers-1)*bytes*8/link
}

// workersOf returns the number of workers of a run (1 without data parallelism).
func workersOf(r *charlm.Results) int {
	if r.ParallelResults == nil {
		return 1
	}
	return r.Workers
}

// evalStepsOf returns the evaluation steps present in any of the runs, sorted.
func evalStepsOf(rows []row) []int {
	seen := map[int]bool{}
	for _, r := range rows {
		for k := range r.run.Results.ValLoss {
			if s, err := strconv.Atoi(k); err == nil {
				seen[s] = true
			}
		}
	}
	var steps []int
	for s := range seen {
		steps = append(steps, s)
	}
	sort.Ints(steps)
	return steps
}

func formatLoss(r *charlm.Results, step int) string {
	v, ok := r.ValLoss[strconv.Itoa(step)]
	if !ok {
		return "-"
	}
	return fmt.Sprintf("%.4f", v)
}
