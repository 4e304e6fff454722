//go:build mpi

package integration_test

// charlm's data-parallel training over MPI, through the command itself: a
// charlm built with the "mpi" build tag, launched by mpirun with 2 ranks (one
// process each, loopback TCP), must train exactly as the in-process run with
// -workers 2 does, and a rank's error must end the job with a clear message.
// Needs OpenMPI (Debian: openmpi-bin, libopenmpi-dev) and cgo:
//
//	CGO_ENABLED=1 go test -tags mpi ./integration_test/ -run MPI

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ggprior/ggprior/internal/charlm"
	"github.com/stretchr/testify/require"
)

// mpirunArgs are mpirun's arguments for a job of np ranks on this host over
// loopback TCP, also as root and with more ranks than cores.
func mpirunArgs(np int) []string {
	return []string{
		"--allow-run-as-root", "--oversubscribe", "-np", strconv.Itoa(np),
		"--mca", "btl", "self,tcp", "--mca", "btl_tcp_if_include", "lo", "--mca", "oob_tcp_if_include", "lo",
	}
}

// runBounded runs the command with its output combined, killing it and its
// children (mpirun's ranks) if it runs longer than limit, which fails the
// test. It returns the output, the wall time and the command's error.
func runBounded(t *testing.T, limit time.Duration, name string, args ...string) (string, time.Duration, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) } // The whole process group.
	cmd.WaitDelay = 5 * time.Second
	start := time.Now()
	err := cmd.Run()
	elapsed := time.Since(start)
	if ctx.Err() != nil {
		t.Fatalf("%s did not end within %s (killed); output:\n%s", filepath.Base(name), limit, out.String())
	}
	return out.String(), elapsed, err
}

// rankHashLine is the line each data-parallel rank of charlm prints at the end.
var rankHashLine = regexp.MustCompile(`(?m)^rank (\d+): weights_hash=([0-9a-f]{64})$`)

// rankHashes returns the weights hash each rank printed in out, by rank,
// requiring one line per rank of the np.
func rankHashes(t *testing.T, out string, np int) []string {
	t.Helper()
	hashes := make([]string, np)
	matches := rankHashLine.FindAllStringSubmatch(out, -1)
	require.Len(t, matches, np, "one weights_hash line per rank; output:\n%s", out)
	for _, m := range matches {
		r, err := strconv.Atoi(m[1])
		require.NoError(t, err)
		require.True(t, r >= 0 && r < np && hashes[r] == "", "rank %d: unexpected or repeated; output:\n%s", r, out)
		hashes[r] = m[2]
	}
	return hashes
}

// readCharlmResults reads a charlm results JSON file.
func readCharlmResults(t *testing.T, path string) *charlm.Results {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	r := &charlm.Results{}
	require.NoError(t, json.Unmarshal(data, r), "%s", path)
	return r
}

// TestCharlmMPI builds charlm with MPI support and runs the full model for 6
// steps (batch 4: 2 windows per rank) on a small text, with GCT-coded and
// with plain fp32 gradients, under mpirun with 2 ranks and in-process with
// -workers 2: both ranks print the same weights hash, which is the in-process
// run's, rank 0 alone prints the run's header and writes the results (with the
// same losses as the in-process run's), and every rank checkpoints. Then a
// job whose ranks disagree on the model ends with an error.
func TestCharlmMPI(t *testing.T) {
	mpirun, err := exec.LookPath("mpirun")
	if err != nil {
		t.Skip("mpirun not found: install OpenMPI (Debian: openmpi-bin libopenmpi-dev)")
	}
	dir := t.TempDir()
	t.Setenv("CGO_ENABLED", "1")
	t.Setenv("GOFLAGS", strings.TrimSpace(os.Getenv("GOFLAGS")+" -tags=mpi"))
	bin := buildCommand(t, dir, "examples/charlm")
	data := writeCorpus(t, dir)
	const limit = 3 * time.Minute
	flags := func(compress, results string, more ...string) []string {
		return append([]string{"-steps", "6", "-eval-at", "6", "-batch", "4", "-data", data, "-compress", compress,
			"-results", results, "-quiet"}, more...)
	}

	bytesSent := map[string]float64{}
	for _, compress := range []string{"gct", "none"} {
		t.Run(compress, func(t *testing.T) {
			mpiResults, ckpt := filepath.Join(dir, compress+"-mpi.json"), filepath.Join(dir, compress+"-ckpt")
			out, elapsed, err := runBounded(t, limit, mpirun,
				append(append(mpirunArgs(2), bin), flags(compress, mpiResults, "-checkpoint", ckpt)...)...)
			require.NoError(t, err, "output:\n%s", out)
			t.Logf("mpirun -np 2: %s", elapsed.Round(time.Millisecond))
			hashes := rankHashes(t, out, 2)
			require.Equal(t, hashes[0], hashes[1], "the ranks must hold the same weights; output:\n%s", out)
			require.Len(t, regexp.MustCompile(`(?m)^model: `).FindAllString(out, -1), 1, "rank 0 alone prints the header; output:\n%s", out)
			require.Contains(t, out, "data-parallel: 2 MPI ranks")
			for r := range 2 {
				names, err := charlm.ListCheckpoints(charlm.RankCheckpointDir(ckpt, r))
				require.NoError(t, err)
				require.NotEmpty(t, names, "rank %d checkpoints", r)
			}

			inResults := filepath.Join(dir, compress+"-in-process.json")
			inOut, elapsed, err := runBounded(t, limit, bin, flags(compress, inResults, "-workers", "2")...)
			require.NoError(t, err, "output:\n%s", inOut)
			t.Logf("in-process -workers 2: %s", elapsed.Round(time.Millisecond))
			require.Equal(t, hashes, rankHashes(t, inOut, 2), "MPI must train as in-process")

			got, want := readCharlmResults(t, mpiResults), readCharlmResults(t, inResults)
			require.Equal(t, 2, got.Workers)
			require.Greater(t, got.BytesSentPerWorkerPerStep, 0.0)
			require.Equal(t, hashes[0], got.WeightsHash)
			require.Equal(t, want.WeightsHash, got.WeightsHash)
			require.Equal(t, want.LossCurve, got.LossCurve)
			require.Len(t, got.ValLoss, 1)
			require.Equal(t, want.ValLoss, got.ValLoss)
			require.Equal(t, want.BytesSentPerWorkerPerStep, got.BytesSentPerWorkerPerStep)
			bytesSent[compress] = got.BytesSentPerWorkerPerStep
		})
	}
	if len(bytesSent) == 2 {
		require.Less(t, bytesSent["gct"], bytesSent["none"]/8, "GCT at 2 bits sends far less than fp32")
	}

	// Rank 1 builds another model (MPMD: one command line per rank): the
	// ranks disagree at the first exchange, and the job ends with the error.
	t.Run("ranks-disagree", func(t *testing.T) {
		results := filepath.Join(dir, "disagree.json")
		args := append(mpirunArgs(1), bin)
		args = append(args, flags("gct", results)...)
		args = append(args, ":", "-np", "1", bin)
		args = append(args, flags("gct", results, "-arch", charlm.ArchLlama)...)
		out, elapsed, err := runBounded(t, limit, mpirun, args...)
		require.Error(t, err, "mpirun must fail; output:\n%s", out)
		require.Regexp(t, `charlm: rank [01] of 2: .*ranks disagree`, out)
		require.NotRegexp(t, `weights_hash=`, out)
		require.NoFileExists(t, results)
		t.Logf("ended after %s; output:\n%s", elapsed.Round(time.Millisecond), out)
	})
}
