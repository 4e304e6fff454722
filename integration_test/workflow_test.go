package integration_test

// A user's workflow, end to end, through the commands themselves: train
// charlm with GG initialization, ACT and GCT; crash it after its first
// checkpoint; run the same command again, which resumes and must end exactly
// where an uninterrupted run ends; then analyse the checkpoint with ggstats.

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ggprior/ggprior/internal/distfit"
	"github.com/ggprior/ggprior/internal/tensorkind"
	"github.com/stretchr/testify/require"
)

// buildCommand builds the command in package pkg (relative to the module
// root) into dir and returns the binary's path. The environment is the
// test's (GOEXPERIMENT included).
func buildCommand(t *testing.T, dir, pkg string) string {
	t.Helper()
	bin := filepath.Join(dir, filepath.Base(pkg))
	cmd := exec.Command("go", "build", "-o", bin, "./"+pkg)
	cmd.Dir = ".." // The module root.
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "go build %s:\n%s", pkg, out)
	return bin
}

// writeCorpus writes a small text (a few KB of varied English) for charlm's -data.
func writeCorpus(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	for i := 0; b.Len() < 6000; i++ {
		b.WriteString("The rays of light which differ in refrangibility differ also in colour; ")
		b.WriteString("and a pack of quick brown foxes jumps over the lazy dog, time after time. ")
		b.WriteString(strings.Repeat("Prisms part the white light of the sun. ", i%3+1))
	}
	path := filepath.Join(dir, "corpus.txt")
	require.NoError(t, os.WriteFile(path, []byte(b.String()), 0o644))
	return path
}

// charlmRun is the part of charlm's results JSON the workflow compares.
type charlmRun struct {
	Config struct {
		ResumedFrom string `json:"resumed_from"`
	} `json:"config"`
	ValLoss           map[string]float64      `json:"val_loss"`
	LossCurve         [][2]float64            `json:"loss_curve"`
	WeightsHash       string                  `json:"weights_hash"`
	GradBits          float64                 `json:"grad_bits_per_element"`
	GradBitsByVar     map[string]float64      `json:"grad_bits_by_variable"`
	ACTSparsity       float64                 `json:"act_sparsity"`
	ACTSparsityBySite map[string]float64      `json:"act_sparsity_by_site"`
	Outputs           map[string][][2]float64 `json:"outputs"`
}

func readRun(t *testing.T, path string) charlmRun {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	var r charlmRun
	require.NoError(t, json.Unmarshal(data, &r), "%s", path)
	return r
}

var weightsHashLine = regexp.MustCompile(`(?m)^weights_hash=([0-9a-f]{64})$`)

// TestWorkflowTrainCrashResumeAnalyse is the workflow above, with GG init
// (beta 1.4), ACT at the MLP hidden activations and GCT at 2 bits.
func TestWorkflowTrainCrashResumeAnalyse(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the commands (about a minute)")
	}
	dir := t.TempDir()
	charlmBin := buildCommand(t, dir, "examples/charlm")
	ggstatsBin := buildCommand(t, dir, "examples/ggstats")
	corpus := writeCorpus(t, dir)
	const steps = 12
	args := func(results string, extra ...string) []string {
		return append([]string{
			"-steps", "12", "-eval-at", "4,12", "-data", corpus, "-quiet", "-results", results,
			"-init", "gg", "-beta", "1.4",
			"-act", "-act-sites", "mlp_hidden", "-act-sparsity", "0.9", "-act-start", "1", "-act-end", "8",
			"-compress", "gct", "-gct-bits", "2",
		}, extra...)
	}
	run := func(args []string) string {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		out, err := exec.CommandContext(ctx, charlmBin, args...).CombinedOutput()
		require.NoError(t, err, "charlm %s:\n%s", strings.Join(args, " "), out)
		return string(out)
	}

	// 1. Uninterrupted.
	straightOut := run(args(filepath.Join(dir, "straight.json")))
	straight := readRun(t, filepath.Join(dir, "straight.json"))
	m := weightsHashLine.FindStringSubmatch(straightOut)
	require.NotNil(t, m, "no weights_hash line in:\n%s", straightOut)
	require.Equal(t, m[1], straight.WeightsHash)

	// 2. The same run with checkpoints, killed (SIGKILL, as a crash) as soon as
	// its step-4 checkpoint is complete (charlm writes the checkpoint's JSON last).
	ckpt := filepath.Join(dir, "ckpt")
	crashedArgs := args(filepath.Join(dir, "crashed.json"), "-checkpoint", ckpt)
	cmd := exec.Command(charlmBin, crashedArgs...)
	var crashedOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &crashedOut, &crashedOut
	require.NoError(t, cmd.Start())
	deadline := time.Now().Add(3 * time.Minute)
	for {
		matches, _ := filepath.Glob(filepath.Join(ckpt, "*.json"))
		if len(matches) > 0 {
			break
		}
		require.True(t, time.Now().Before(deadline), "no checkpoint after 3 minutes:\n%s", crashedOut.String())
		time.Sleep(10 * time.Millisecond)
	}
	require.NoError(t, cmd.Process.Kill())
	_ = cmd.Wait()
	saved, err := filepath.Glob(filepath.Join(ckpt, "*.json"))
	require.NoError(t, err)
	require.Len(t, saved, 1, "the run must be killed before its final checkpoint (step %d)", steps)
	_, err = os.Stat(filepath.Join(dir, "crashed.json"))
	require.True(t, os.IsNotExist(err), "a killed run writes no results")

	// 3. The same command again: resumes from step 4 and ends where the uninterrupted run ended.
	resumedOut := run(crashedArgs)
	resumed := readRun(t, filepath.Join(dir, "crashed.json"))
	require.NotEmpty(t, resumed.Config.ResumedFrom, "the second invocation must resume:\n%s", resumedOut)
	require.Equal(t, straight.WeightsHash, resumed.WeightsHash, "resumed weights differ from the uninterrupted run's")
	require.Equal(t, straight.ValLoss, resumed.ValLoss)
	require.Equal(t, straight.LossCurve, resumed.LossCurve)
	require.Equal(t, straight.GradBits, resumed.GradBits)
	require.Equal(t, straight.GradBitsByVar, resumed.GradBitsByVar)
	require.Equal(t, straight.ACTSparsity, resumed.ACTSparsity)
	require.Equal(t, straight.ACTSparsityBySite, resumed.ACTSparsityBySite)
	require.Equal(t, straight.Outputs, resumed.Outputs)
	require.Len(t, straight.ValLoss, 2)
	require.Greater(t, straight.GradBits, 0.5, "GCT's coded bits per element")
	require.Less(t, straight.GradBits, 4.0, "GCT at 2 bits")
	require.Greater(t, straight.ACTSparsity, 0.0, "ACT's achieved sparsity")

	// 4. ggstats on the final checkpoint: fits of every weight tensor, a summary, JSON and plots.
	plots := filepath.Join(dir, "plots")
	statsJSON := filepath.Join(dir, "stats.json")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, ggstatsBin, "-checkpoint", ckpt, "-json", statsJSON, "-plots", plots).CombinedOutput()
	require.NoError(t, err, "ggstats:\n%s", out)
	f, err := os.Open(statsJSON)
	require.NoError(t, err)
	stats, err := distfit.ReadJSON(f)
	_ = f.Close()
	require.NoError(t, err)
	require.NotEmpty(t, stats.Reports)
	for _, kind := range []string{"attn", "mlp"} {
		found := false
		for _, r := range stats.Reports {
			found = found || strings.Contains(r.Name, kind)
		}
		require.True(t, found, "no %s tensor analysed", kind)
	}
	for _, r := range stats.Reports {
		require.Equal(t, tensorkind.Weights, r.Kind, r.Name)
		require.Greater(t, r.MLE.Beta, 0.0, r.Name)
		require.Contains(t, r.KS, distfit.ModelGG, r.Name)
	}
	pngs, err := filepath.Glob(filepath.Join(plots, "*.png"))
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(pngs), len(stats.Reports), "a PNG per tensor")
	require.Contains(t, string(out), "GG fits best", "ggstats' summary line")
}
