package integration_test

// The paper command end to end, in-process, at its tiny profile (a 1-layer
// model, 6-step runs): every stage writes its part of report.md and
// results.json and its figures; a second invocation skips every stage; a
// third with -force redoes them from the runs already trained. The MNIST
// stage trains on a small synthetic dataset written where -mnist-dir points.

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ggprior/ggprior/internal/mnist"
	"github.com/ggprior/ggprior/internal/paper"
	"github.com/ggprior/ggprior/internal/pngtest"
	"github.com/stretchr/testify/require"
)

func TestPaperTinyProfile(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "paper")
	mnistDir := filepath.Join(dir, "mnist")
	require.NoError(t, mnist.Save(mnistDir, mnist.Synthetic(512, 256, 1)))
	args := []string{"-profile", "tiny", "-out", out, "-mnist-dir", mnistDir}

	var stdout, stderr bytes.Buffer
	require.NoError(t, paper.Main(args, &stdout, &stderr), "stderr:\n%s", stderr.String())
	t.Logf("stdout:\n%s", stdout.String())
	require.Contains(t, stdout.String(), "tiny profile: 6 steps, 1 seed — a smoke test of the claims, not the claims")
	for _, stage := range paper.StageNames() {
		require.Contains(t, stdout.String(), "stage "+stage+" (", "every stage ran")
		require.Contains(t, stderr.String(), "== stage ", "progress")
	}

	var results paper.ResultsFile
	data, err := os.ReadFile(filepath.Join(out, "results.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(data, &results))
	require.Equal(t, "tiny", results.Profile)
	require.Len(t, results.Stages, len(paper.Stages))
	for name, st := range results.Stages {
		require.Empty(t, st.Skipped, name)
		require.NotEmpty(t, st.Claims, name)
		require.NotEmpty(t, st.Tables, name)
		for _, c := range st.Claims {
			require.Contains(t, []string{paper.Yes, paper.No, paper.NotMeasured}, c.Reproduced, "%s: %s", name, c.Claim)
		}
		for _, f := range st.Figures {
			pngtest.Require(t, filepath.Join(out, f.File))
		}
	}
	for _, stage := range []string{"evidence", "init", "act", "gct", "arch"} {
		require.NotEmpty(t, results.Stages[stage].Figures, stage)
	}
	every := results.Stages["act"].Claims[2] // ACT at every site, from act-all's run.
	require.Contains(t, every.Claim, "every activation site")
	require.NotEqual(t, paper.NotMeasured, every.Reproduced, every.Measured)

	report, err := os.ReadFile(filepath.Join(out, "report.md"))
	require.NoError(t, err)
	md := string(report)
	for _, want := range []string{
		"# The paper's claims, reproduced (profile tiny)",
		"## Summary",
		"## GG initialization (stage init)",
		"| normal02 | normal02 | 1 (1) |",    // The baseline's row in the init table.
		"| normal02 | none | 1 (1) |",        // ... in the ACT table.
		"| normal02 | none (fp32) | 1 (1) |", // ... in the GCT table.
	} {
		require.Contains(t, md, want)
	}
	require.Contains(t, md, "- gct-2bits: `GOEXPERIMENT=simd go run ./examples/charlm -compress gct -gct-bits 2 -gct-coder expgolomb -gct-geometry gradient -gct-moment-correction false -seed 1 -steps 6")
	require.Regexp(t, `reproduced: \*\*(yes|no|not measured)\*\*`, md)
	require.Contains(t, md, "![")

	// Again: every stage is done.
	stdout.Reset()
	stderr.Reset()
	require.NoError(t, paper.Main(args, &stdout, &stderr))
	require.Equal(t, len(paper.Stages), strings.Count(stdout.String(), ": done before"), stdout.String())
	require.NotContains(t, stderr.String(), "training ")

	// -force: every stage again, from the runs already trained.
	stdout.Reset()
	stderr.Reset()
	require.NoError(t, paper.Main(append(args, "-force"), &stdout, &stderr), stderr.String())
	require.Zero(t, strings.Count(stdout.String(), ": done before"))
	require.NotContains(t, stderr.String(), "training gct", "charlm runs are reused")
	again, err := os.ReadFile(filepath.Join(out, "report.md"))
	require.NoError(t, err)
	require.Contains(t, string(again), "## GG initialization (stage init)")
}
