package charlm

import (
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// checkpointEntry is a variable's entry in a checkpoint's metadata, as the
// tests read it.
type checkpointEntry struct {
	ParameterName string
	Dimensions    []int
	Pos, Length   int
}

// checkpointEntries reads the variables' entries of the checkpoint base of dir.
func checkpointEntries(t *testing.T, dir, base string) []checkpointEntry {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, base+".json"))
	require.NoError(t, err)
	var meta struct{ Variables []checkpointEntry }
	require.NoError(t, json.Unmarshal(data, &meta))
	return meta.Variables
}

// checkpointEntryOf returns the entry of the first variable whose path ends with suffix.
func checkpointEntryOf(t *testing.T, dir, base, suffix string) checkpointEntry {
	t.Helper()
	for _, e := range checkpointEntries(t, dir, base) {
		if strings.HasSuffix(e.ParameterName, suffix) {
			return e
		}
	}
	require.Failf(t, "no such variable", "checkpoint %s has no variable *%s", base, suffix)
	return checkpointEntry{}
}

// editFile replaces the file at path by edit's result on its content.
func editFile(t *testing.T, path string, edit func(data []byte) []byte) {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, edit(data), 0o644))
}

// removeManifest removes the checksums of the checkpoint base of dir, if any.
func removeManifest(t *testing.T, dir, base string) {
	t.Helper()
	if err := os.Remove(filepath.Join(dir, base+".sha256")); err != nil {
		require.ErrorIs(t, err, os.ErrNotExist)
	}
}

// copyDir copies the regular files of src into a new temporary directory.
func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	entries, err := os.ReadDir(src)
	require.NoError(t, err)
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(src, e.Name()))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dst, e.Name()), data, 0o644))
	}
	return dst
}

// captureStderr runs fn with os.Stderr sent to a file and returns what was written.
func captureStderr(t *testing.T, fn func()) string {
	t.Helper()
	f, err := os.CreateTemp(t.TempDir(), "stderr")
	require.NoError(t, err)
	saved := os.Stderr
	os.Stderr = f
	defer func() { os.Stderr = saved }()
	fn()
	_, err = f.Seek(0, io.SeekStart)
	require.NoError(t, err)
	out, err := io.ReadAll(f)
	require.NoError(t, err)
	require.NoError(t, f.Close())
	return string(out)
}

// checkpointedRun trains the tiny experiment for 4 steps with a checkpoint
// at steps 2 and 4 and returns its directory, the checkpoints' names and the
// weights hash at step 4.
func checkpointedRun(t *testing.T, data string) (dir string, names []string, hash string) {
	t.Helper()
	dir = t.TempDir()
	exp := methodExperiment(t, data, 4, dir, nil, "")
	require.NoError(t, exp.TrainTo(4))
	names, err := ListCheckpoints(dir)
	require.NoError(t, err)
	require.Len(t, names, 2)
	return dir, names, exp.Results().WeightsHash
}

// TestResumeSkipsBadCheckpoint damages the latest checkpoint of a run in
// each way a file can go bad: the run resumes from the checkpoint before it,
// says on standard error which file was bad, and ends bit for bit as the run
// that was not interrupted.
func TestResumeSkipsBadCheckpoint(t *testing.T) {
	data := tinyCorpusFile(t, pangram, 40)
	run, names, wantHash := checkpointedRun(t, data)
	good, bad := names[0], names[1]
	for name, tc := range map[string]struct {
		damage   func(t *testing.T, dir string)
		badFile  string // The file the notice names.
		complain string // What the notice says about it.
	}{
		"exponent bit flipped in 128 weights": {
			damage: func(t *testing.T, dir string) {
				e := checkpointEntryOf(t, dir, bad, "/token_embed/embeddings")
				editFile(t, filepath.Join(dir, bad+".bin"), func(b []byte) []byte {
					for i := range 128 {
						b[e.Pos+4*i+3] ^= 0x20 // Bit 29 of a little-endian float32: an exponent bit.
					}
					return b
				})
			},
			badFile: bad + ".bin", complain: "SHA-256",
		},
		"bytes overwritten in the AdamW moments": {
			damage: func(t *testing.T, dir string) {
				e := checkpointEntryOf(t, dir, bad, "_2nd_moment")
				editFile(t, filepath.Join(dir, bad+".bin"), func(b []byte) []byte {
					for i := range 64 {
						b[e.Pos+i] = 0xff
					}
					return b
				})
			},
			badFile: bad + ".bin", complain: "SHA-256",
		},
		"data truncated": {
			damage: func(t *testing.T, dir string) {
				editFile(t, filepath.Join(dir, bad+".bin"), func(b []byte) []byte { return b[:len(b)/2] })
			},
			badFile: bad + ".bin", complain: "bytes",
		},
		"data missing": {
			damage:  func(t *testing.T, dir string) { require.NoError(t, os.Remove(filepath.Join(dir, bad+".bin"))) },
			badFile: bad + ".bin", complain: "no such file",
		},
		"metadata edited": {
			damage: func(t *testing.T, dir string) {
				editFile(t, filepath.Join(dir, bad+".json"), func(b []byte) []byte {
					return []byte(strings.Replace(string(b), `"learning_rate"`, `"learning_rat_"`, 1))
				})
			},
			badFile: bad + ".json", complain: "SHA-256",
		},
	} {
		t.Run(name, func(t *testing.T) {
			dir := copyDir(t, run)
			tc.damage(t, dir)
			var exp *Experiment
			stderr := captureStderr(t, func() { exp = methodExperiment(t, data, 4, dir, nil, "") })
			t.Logf("stderr: %s", stderr)
			require.Equal(t, good, exp.ResumedFrom)
			require.Equal(t, 2, exp.GlobalStep())
			require.Contains(t, stderr, tc.badFile)
			require.Contains(t, stderr, tc.complain)
			require.Contains(t, stderr, "resuming from "+good)

			require.NoError(t, exp.TrainTo(4))
			require.Equal(t, wantHash, exp.Results().WeightsHash)
		})
	}
}

// TestResumeWithoutGoodCheckpoint: when no checkpoint of the directory is
// good, resuming fails with an error that names every bad file.
func TestResumeWithoutGoodCheckpoint(t *testing.T) {
	data := tinyCorpusFile(t, pangram, 40)
	run, names, _ := checkpointedRun(t, data)
	dir := copyDir(t, run)
	for _, name := range names {
		editFile(t, filepath.Join(dir, name+".bin"), func(b []byte) []byte { b[len(b)/3] ^= 1; return b })
	}
	tc := DefaultTrainConfig()
	tc.Steps, tc.EvalAt, tc.Data, tc.Checkpoint, tc.EvalBatch = 4, []int{2}, data, dir, 8
	_, err := NewExperiment(backend(t), tinyConfig(ArchGPT), tc)
	require.Error(t, err)
	for _, name := range names {
		require.ErrorContains(t, err, filepath.Join(dir, name+".bin"))
	}
	require.ErrorContains(t, err, "SHA-256")
}

// TestLoadHugeShape: a checkpoint whose metadata claims a shape far larger
// than its data is refused with an error naming the variable and both sizes,
// before anything is allocated.
func TestLoadHugeShape(t *testing.T) {
	data := tinyCorpusFile(t, pangram, 40)
	run, names, _ := checkpointedRun(t, data)
	dir := copyDir(t, run)
	require.NoError(t, os.Remove(filepath.Join(dir, names[0]+".json")))
	base := names[1]
	e := checkpointEntryOf(t, dir, base, "/token_embed/embeddings")
	// Both dimensions become 2^20: 2^40 float32 values, 4 TiB.
	editFile(t, filepath.Join(dir, base+".json"), func(b []byte) []byte {
		var meta map[string]any
		require.NoError(t, json.Unmarshal(b, &meta))
		for _, v := range meta["Variables"].([]any) {
			if v := v.(map[string]any); v["ParameterName"] == e.ParameterName {
				v["Dimensions"] = []int{1 << 20, 1 << 20}
			}
		}
		out, err := json.Marshal(meta)
		require.NoError(t, err)
		return out
	})
	removeManifest(t, dir, base) // As an older writer's checkpoint.

	tc := DefaultTrainConfig()
	tc.Steps, tc.EvalAt, tc.Data, tc.Checkpoint, tc.EvalBatch = 4, []int{2}, data, dir, 8
	var err error
	stderr := captureStderr(t, func() { _, err = NewExperiment(backend(t), tinyConfig(ArchGPT), tc) })
	t.Logf("stderr: %s", stderr)
	require.Error(t, err)
	require.ErrorContains(t, err, strings.TrimPrefix(e.ParameterName, "var:"))
	require.ErrorContains(t, err, "4398046511104 bytes") // What the shape needs,
	info, statErr := os.Stat(filepath.Join(dir, base+".bin"))
	require.NoError(t, statErr)
	require.ErrorContains(t, err, strconv.FormatInt(info.Size(), 10)+" bytes") // and what the data holds.
}

// TestResumeOldCheckpointAndStaleTemporaries: a checkpoint without checksums
// (written before checkpoints had them) resumes with a notice, and the
// temporary files of a save that was killed are removed, with a notice.
func TestResumeOldCheckpointAndStaleTemporaries(t *testing.T) {
	data := tinyCorpusFile(t, pangram, 40)
	run, names, wantHash := checkpointedRun(t, data)
	dir := copyDir(t, run)
	for _, name := range names {
		removeManifest(t, dir, name)
	}
	stale := []string{".tmp-checkpoint-n0000002-20250101-000000-step-00000006.bin-123456",
		".tmp-checkpoint-n0000002-20250101-000000-step-00000006.json-654321",
		".checkpoint-n0000002-20250101-000000-step-00000006.sha256.tmp-777"} // Older versions' names, then today's.
	for _, name := range stale {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte("partial"), 0o644))
	}
	other := filepath.Join(dir, ".tmp-not-a-checkpoint")
	require.NoError(t, os.WriteFile(other, nil, 0o644))

	var exp *Experiment
	stderr := captureStderr(t, func() { exp = methodExperiment(t, data, 4, dir, nil, "") })
	t.Logf("stderr: %s", stderr)
	require.Equal(t, names[1], exp.ResumedFrom)
	require.Contains(t, stderr, names[1]+" has no checksums")
	require.Contains(t, stderr, "removed 3 temporary files")
	for _, name := range stale {
		require.Contains(t, stderr, name)
		require.NoFileExists(t, filepath.Join(dir, name))
	}
	require.FileExists(t, other)
	require.NoError(t, exp.TrainTo(4))
	require.Equal(t, wantHash, exp.Results().WeightsHash)
}
