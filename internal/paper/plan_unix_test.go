//go:build unix

package paper

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/ggprior/ggprior/internal/charlm"
	"github.com/ggprior/ggprior/internal/study"
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

// lockPlan returns a Plan on the tiny profile whose Runner records the
// names of the runs it trains, in order, and signals on the returned
// waitWriter when it waits for another process; onTrain, if not nil, is
// called with the name of each run as it starts.
func lockPlan(t *testing.T, onTrain func(name string)) (plan *Plan, trained *[]string, waiting waitWriter) {
	prof := profiles["tiny"]
	out := t.TempDir()
	plan = &Plan{Profile: prof, Seeds: prof.Seeds, Out: out, Backend: testbackend.Get(t),
		ctx: context.Background(), progress: newProgress(os.Stderr, true, prof), ensured: map[string]bool{}}
	trained = new([]string)
	waiting = make(waitWriter, 1)
	plan.Runner = &study.Runner{Dir: filepath.Join(out, "runs"), CheckpointDir: filepath.Join(out, "checkpoints"),
		Backend: plan.Backend, Model: prof.Model, Progress: waiting,
		Prepare: func(spec study.RunSpec, exp *charlm.Experiment) {
			*trained = append(*trained, spec.Name())
			if onTrain != nil {
				onTrain(spec.Name())
			}
			plan.prepare(spec, exp)
		}}
	require.NoError(t, os.MkdirAll(plan.Runner.Dir, 0o755))
	return plan, trained, waiting
}

// runNames returns the run names of needs.
func runNames(t *testing.T, plan *Plan, needs ...Need) []string {
	var names []string
	for _, n := range needs {
		spec, err := plan.Spec(n.Config, n.Seed)
		require.NoError(t, err)
		names = append(names, spec.Name())
	}
	return names
}

// holdLock takes a run's lock as another process's study.Runner does; closing
// the file lets it go.
func holdLock(t *testing.T, plan *Plan, name string) *os.File {
	f, err := os.OpenFile(filepath.Join(plan.Runner.Dir, "."+name+".lock"), os.O_RDWR|os.O_CREATE, 0o644)
	require.NoError(t, err)
	require.NoError(t, syscall.Flock(int(f.Fd()), syscall.LOCK_EX))
	t.Cleanup(func() { _ = f.Close() })
	return f
}

// ensured is what EnsureAll returned.
type ensured struct {
	results []*charlm.Results
	err     error
}

// TestEnsureAllLeavesBusyRunsForLater: a run that another process is
// training (its lock file held, as study.Runner holds it) is left for the
// end; EnsureAll trains the others first, then waits for it, and trains it
// itself when the other process let it go unfinished.
func TestEnsureAllLeavesBusyRunsForLater(t *testing.T) {
	plan, trained, waiting := lockPlan(t, nil)
	needs := []Need{{Config: "gct-2bits", Seed: 1}, {Config: "sign", Seed: 1}}
	names := runNames(t, plan, needs...)
	f := holdLock(t, plan, names[0]) // The other process.

	done := make(chan ensured, 1)
	go func() {
		results, err := plan.EnsureAll(needs)
		done <- ensured{results, err}
	}()
	<-waiting // The second run is trained; the first is waited for.
	require.Equal(t, names[1:], *trained)
	require.NoError(t, f.Close()) // The other process ends without results.
	r := <-done
	require.NoError(t, r.err)
	require.Equal(t, []string{names[1], names[0]}, *trained)
	require.Len(t, r.results, 2)
	require.Equal(t, "gct:2bits", r.results[0].Compress.Name, "results in the order of needs")
	require.Equal(t, "sign", r.results[1].Compress.Name)
}

// TestEnsureAllTrainsAheadWhileBusy: while a run of the stage is busy in
// another process, EnsureAll trains a run a later stage needs (skipping one
// that is busy too) instead of waiting, then comes back to the stage's run.
func TestEnsureAllTrainsAheadWhileBusy(t *testing.T) {
	needs := []Need{{Config: "gct-2bits", Seed: 1}, {Config: "sign", Seed: 1}}
	var names []string
	var stage *os.File
	plan, trained, _ := lockPlan(t, func(name string) {
		if len(names) > 3 && name == names[3] {
			require.NoError(t, stage.Close()) // The other process lets the stage's run go as the run ahead starts.
		}
	})
	plan.ahead = []Need{{Config: "bf16", Seed: 1}, {Config: "int8", Seed: 1}}
	names = runNames(t, plan, append(needs, plan.ahead...)...)
	stage = holdLock(t, plan, names[0])
	holdLock(t, plan, names[2]) // The first run ahead is busy too, all along.

	results, err := plan.EnsureAll(needs)
	require.NoError(t, err)
	require.Equal(t, []string{names[1], names[3], names[0]}, *trained)
	require.Len(t, results, 2)
	require.Equal(t, "gct:2bits", results[0].Compress.Name, "results in the order of needs")
	require.Equal(t, "sign", results[1].Compress.Name)
}

// TestEnsureWeightsAfterResults: a run ensured without its weights whose
// checkpoint is gone (results from before the paper kept checkpoints) is
// still pending, and trained ahead again, when a later stage needs its
// weights.
func TestEnsureWeightsAfterResults(t *testing.T) {
	plan, trained, _ := lockPlan(t, nil)
	need := Need{Config: baseline, Seed: 1}
	_, err := plan.Ensure(need)
	require.NoError(t, err)
	spec, err := plan.Spec(need.Config, need.Seed)
	require.NoError(t, err)
	require.NoError(t, os.RemoveAll(plan.Runner.CheckpointPath(spec)))
	_, train, err := plan.pending(need)
	require.NoError(t, err)
	require.False(t, train, "ensured")
	need.Weights = true
	_, train, err = plan.pending(need)
	require.NoError(t, err)
	require.True(t, train, "ensured, but without its weights")

	plan.ahead = []Need{need}
	ahead, err := plan.trainAhead()
	require.NoError(t, err)
	require.True(t, ahead)
	require.Equal(t, []string{spec.Name(), spec.Name()}, *trained)
	require.True(t, plan.Runner.HasWeights(spec))
	_, train, err = plan.pending(need)
	require.NoError(t, err)
	require.False(t, train, "ensured with its weights")
}
