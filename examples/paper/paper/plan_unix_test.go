//go:build unix

package paper

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/ggprior/ggprior/examples/charlm/charlm"
	"github.com/ggprior/ggprior/examples/study"
	"github.com/ggprior/ggprior/internal/testbackend"
	"github.com/stretchr/testify/require"
)

// waitWriter signals when a study.Runner says it waits for another process.
type waitWriter chan struct{}

func (w waitWriter) Write(p []byte) (int, error) {
	if strings.Contains(string(p), "another process is training it; waiting for it") {
		w <- struct{}{}
	}
	return len(p), nil
}

// TestEnsureAllLeavesBusyRunsForLater: a run that another process is
// training (its lock file held, as study.Runner holds it) is left for the
// end; EnsureAll trains the others first, then waits for it, and trains it
// itself when the other process let it go unfinished.
func TestEnsureAllLeavesBusyRunsForLater(t *testing.T) {
	prof := Profiles["tiny"]
	out := t.TempDir()
	plan := &Plan{Profile: prof, Seeds: prof.Seeds, Out: out, Backend: testbackend.Get(t),
		ctx: context.Background(), progress: newProgress(os.Stderr, true, prof), ensured: map[string]bool{}}
	var trained []string
	waiting := make(waitWriter, 1)
	plan.Runner = &study.Runner{Dir: filepath.Join(out, "runs"), CheckpointDir: filepath.Join(out, "checkpoints"),
		Backend: plan.Backend, Model: prof.Model, Progress: waiting,
		Prepare: func(spec study.RunSpec, exp *charlm.Experiment) {
			trained = append(trained, spec.Name())
			plan.prepare(spec, exp)
		}}
	needs := []Need{{Config: "gct-2bits", Seed: 1}, {Config: "sign", Seed: 1}}
	var names []string
	for _, n := range needs {
		spec, err := plan.Spec(n.Config, n.Seed)
		require.NoError(t, err)
		names = append(names, spec.Name())
	}

	// The other process: holds the first run's lock.
	require.NoError(t, os.MkdirAll(plan.Runner.Dir, 0o755))
	f, err := os.OpenFile(filepath.Join(plan.Runner.Dir, "."+names[0]+".lock"), os.O_RDWR|os.O_CREATE, 0o644)
	require.NoError(t, err)
	require.NoError(t, syscall.Flock(int(f.Fd()), syscall.LOCK_EX))

	type ensured struct {
		results []*charlm.Results
		err     error
	}
	done := make(chan ensured, 1)
	go func() {
		results, err := plan.EnsureAll(needs)
		done <- ensured{results, err}
	}()
	<-waiting // The second run is trained; the first is waited for.
	require.Equal(t, names[1:], trained)
	require.NoError(t, f.Close()) // The other process ends without results.
	r := <-done
	require.NoError(t, r.err)
	require.Equal(t, []string{names[1], names[0]}, trained)
	require.Len(t, r.results, 2)
	require.Equal(t, "gct:2bits", r.results[0].Compress.Name, "results in the order of needs")
	require.Equal(t, "sign", r.results[1].Compress.Name)
}
