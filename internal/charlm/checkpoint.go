package charlm

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"github.com/ggprior/ggprior/internal/outfile"
	"hash"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/ggprior/ggprior/internal/ckptcheck"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/pkg/errors"
)

// Checkpoints are written in the file format of GoMLX's ml/model/checkpoint
// package (uncompressed variant): for each checkpoint a JSON file with the
// hyperparameters and the variables' names, shapes and positions, and a binary
// file with the variables' raw bytes, concatenated. GoMLX's checkpoint.Handler
// can load them. They hold every variable of the Store (weights, optimizer
// moments and step counters, the random number generator state) and every
// hyperparameter, including the run state (data generator, history) that the
// Experiment keeps in paramRunState, so one checkpoint is one consistent
// snapshot of a run.
//
// A third file, the manifest, holds the SHA-256 sums of the other two
// (ckptcheck.Manifest): every load checks them (ckptcheck.Check), and a
// resume skips a checkpoint that fails for the one before it (see
// resumeCheckpoint). A checkpoint written before manifests existed loads
// with a notice, its files checked only against each other.

const (
	checkpointPrefix   = ckptcheck.Prefix
	checkpointJSONExt  = ckptcheck.MetadataExt
	checkpointBinExt   = ckptcheck.DataExt
	checkpointSumExt   = ckptcheck.ManifestExt
	checkpointTmpStart = ".tmp-" + checkpointPrefix // Older versions' temporaries; see isCheckpointTemporary.
	checkpointVarKey   = "var:"
	checkpointFormat   = "uncompressed"
	checkpointDirPerms = 0o770
)

// checkpointJSON mirrors GoMLX's checkpoint metadata (serializedData).
type checkpointJSON struct {
	Params    []checkpointParam
	Variables []ckptcheck.Variable
	BinFormat string
}

// checkpointParam mirrors GoMLX's serializedParam.
type checkpointParam struct {
	Scope, Key string
	Value      any
	ValueType  string
}

var checkpointCountRegexp = regexp.MustCompile(`^checkpoint-n(\d+)-`)

// ListCheckpoints returns the base names (without extension) of the checkpoints
// in dir, oldest first. A missing directory has none.
func ListCheckpoints(dir string) ([]string, error) {
	return ckptcheck.List(dir)
}

// saveCheckpoint writes every variable and hyperparameter of store to a new
// checkpoint in dir (created if needed), named after the given global step, and
// returns its base name. The binary file is written first, then the manifest
// of both files' sums, and the JSON file last, each to a temporary name renamed
// into place, so an interrupted save never leaves a checkpoint that lists but
// does not load, nor one without its sums.
func saveCheckpoint(store *model.Store, dir string, globalStep int64) (string, error) {
	if err := os.MkdirAll(dir, checkpointDirPerms); err != nil {
		return "", errors.Wrapf(err, "failed to create the checkpoint directory")
	}
	existing, err := ListCheckpoints(dir)
	if err != nil {
		return "", err
	}
	count := 0
	for _, name := range existing {
		if m := checkpointCountRegexp.FindStringSubmatch(name); m != nil {
			if n, err := strconv.Atoi(m[1]); err == nil && n >= count {
				count = n + 1
			}
		}
	}
	base := fmt.Sprintf("%sn%07d-%s-step-%08d", checkpointPrefix, count, time.Now().Format("20060102-150405"), globalStep)

	meta := checkpointJSON{BinFormat: checkpointFormat}
	for fullPath, value := range store.IterParams() {
		scope, key := model.SplitPath(fullPath)
		meta.Params = append(meta.Params, checkpointParam{Scope: scope, Key: key, Value: value, ValueType: fmt.Sprintf("%T", value)})
	}

	binPath := filepath.Join(dir, base+checkpointBinExt)
	var binSum hash.Hash
	err = writeCheckpointFile(binPath, func(w io.Writer) error {
		binSum = sha256.New()
		w = io.MultiWriter(w, binSum)
		pos := 0
		for v := range store.IterVariables() {
			value, err := v.Value()
			if err != nil {
				return errors.WithMessagef(err, "variable %q has no value to save", v.Path())
			}
			var writeErr error
			n := 0
			if err := value.ConstBytes(func(data []byte) { n, writeErr = w.Write(data) }); err != nil {
				return errors.WithMessagef(err, "failed to read variable %q", v.Path())
			}
			if writeErr != nil {
				return errors.Wrapf(writeErr, "failed to write variable %q", v.Path())
			}
			shape := value.Shape()
			meta.Variables = append(meta.Variables, ckptcheck.Variable{
				ParameterName: checkpointVarKey + v.Path(), Dimensions: shape.Dimensions, DType: shape.DType,
				Pos: pos, Length: n})
			pos += n
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	var metaJSON bytes.Buffer
	enc := json.NewEncoder(&metaJSON)
	enc.SetIndent("", "\t")
	if err := enc.Encode(&meta); err != nil {
		return "", errors.Wrap(err, "failed to encode the checkpoint metadata")
	}
	manifest, err := ckptcheck.Manifest{
		base + checkpointBinExt:  [sha256.Size]byte(binSum.Sum(nil)),
		base + checkpointJSONExt: sha256.Sum256(metaJSON.Bytes()),
	}.MarshalText()
	if err != nil {
		return "", err
	}
	for _, file := range []struct {
		ext  string
		data []byte
	}{{checkpointSumExt, manifest}, {checkpointJSONExt, metaJSON.Bytes()}} {
		err := writeCheckpointFile(filepath.Join(dir, base+file.ext), func(w io.Writer) error {
			_, err := w.Write(file.data)
			return err
		})
		if err != nil {
			return "", err
		}
	}
	return base, nil
}

// checkCheckpoint reads the metadata of the checkpoint base of dir and checks
// the checkpoint's files (ckptcheck.Check), without loading anything.
func checkCheckpoint(dir, base string) (*checkpointJSON, *ckptcheck.Checked, error) {
	checked, err := ckptcheck.Check(dir, base)
	if err != nil {
		return nil, nil, err // It names the file.
	}
	var meta checkpointJSON
	if err := json.Unmarshal(checked.Metadata, &meta); err != nil {
		return nil, nil, errors.Wrapf(err, "failed to decode checkpoint metadata %s", filepath.Join(dir, base+checkpointJSONExt))
	}
	if meta.BinFormat != checkpointFormat {
		return nil, nil, errors.Errorf("checkpoint %s: binary format %q not supported (only %q)", base, meta.BinFormat, checkpointFormat)
	}
	return &meta, checked, nil
}

// resumeCheckpoint loads into store the latest good checkpoint of dir, for a
// run that resumes, and returns its base name ("" when dir holds none).
//
// First it removes the temporary files that a killed save left in dir,
// saying so on standard error. Then it checks the checkpoints, latest first
// (checkCheckpoint): one that fails (a file corrupt, truncated or missing)
// is named on standard error, left in place, and skipped for the one before
// it; the run resumes from the first that passes, saying so when it is not
// the latest, and never from parts of two. With none passing, the error
// names the failure of each.
func resumeCheckpoint(store *model.Store, dir string) (string, error) {
	if err := removeStaleTemporaries(dir); err != nil {
		return "", err
	}
	names, err := ListCheckpoints(dir)
	if err != nil || len(names) == 0 {
		return "", err
	}
	var failures []string
	for i := len(names) - 1; i >= 0; i-- {
		base := names[i]
		meta, checked, err := checkCheckpoint(dir, base)
		if err != nil {
			failures = append(failures, err.Error())
			fmt.Fprintf(os.Stderr, "warning: skipping a bad checkpoint: %v\n", err)
			continue
		}
		if err := loadCheckedCheckpoint(store, dir, base, meta, checked); err != nil {
			return "", err
		}
		if len(failures) > 0 {
			fmt.Fprintf(os.Stderr, "warning: resuming from %s, the latest good checkpoint in %s (the bad ones are left in place)\n", base, dir)
		}
		return base, nil
	}
	return "", errors.Errorf("no checkpoint of %s can be resumed (remove them, or use another -checkpoint directory):\n  %s",
		dir, strings.Join(failures, "\n  "))
}

// removeStaleTemporaries removes the temporary files of checkpoint saves that
// were killed before renaming them into place (see isCheckpointTemporary) from
// dir, and says so on standard error.
func removeStaleTemporaries(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		if os.IsNotExist(err) {
			return nil
		}
		return errors.Wrap(err, "failed to list checkpoints")
	}
	var removed []string
	for _, e := range entries {
		if e.Type().IsRegular() && isCheckpointTemporary(e.Name()) {
			if err := os.Remove(filepath.Join(dir, e.Name())); err != nil {
				return errors.Wrap(err, "failed to remove the temporary file of an interrupted checkpoint save")
			}
			removed = append(removed, e.Name())
		}
	}
	if len(removed) > 0 {
		files := "files"
		if len(removed) == 1 {
			files = "file"
		}
		fmt.Fprintf(os.Stderr, "note: removed %d temporary %s that an interrupted checkpoint save left in %s: %s\n",
			len(removed), files, dir, strings.Join(removed, ", "))
	}
	return nil
}

// loadCheckpoint reads the checkpoint `base` (a name from ListCheckpoints) from
// dir into store: every hyperparameter is set, and every variable is created (or
// overwritten) with its saved value. Variables created here are trainable (the
// format does not record it): callers mark the others (see
// RunState.NonTrainable). Load into a fresh Store, before building any graph.
//
// The checkpoint is checked first (checkCheckpoint): a corrupt, truncated or
// missing file is an error naming it, and one without checksums loads with a
// notice on standard error.
func loadCheckpoint(store *model.Store, dir, base string) error {
	meta, checked, err := checkCheckpoint(dir, base)
	if err != nil {
		return err
	}
	return loadCheckedCheckpoint(store, dir, base, meta, checked)
}

// loadCheckedCheckpoint is loadCheckpoint after the check.
func loadCheckedCheckpoint(store *model.Store, dir, base string, meta *checkpointJSON, checked *ckptcheck.Checked) error {
	if !checked.Checksummed {
		fmt.Fprintf(os.Stderr, "note: checkpoint %s has no checksums (written before checkpoints had them): its content is loaded unverified\n",
			filepath.Join(dir, base))
	}
	for _, p := range meta.Params {
		value, err := decodeParam(p)
		if err != nil {
			return errors.WithMessagef(err, "checkpoint %s", base)
		}
		store.SetParam(model.JoinPath(p.Scope, p.Key), value)
	}

	f, err := os.Open(filepath.Join(dir, base+checkpointBinExt))
	if err != nil {
		return errors.Wrapf(err, "failed to open checkpoint data")
	}
	defer func() { _ = f.Close() }()
	r := bufio.NewReaderSize(f, 1<<20)
	pos := 0
	for _, cv := range meta.Variables {
		fullPath, ok := strings.CutPrefix(cv.ParameterName, checkpointVarKey)
		if !ok || cv.Pos != pos {
			return errors.Errorf("checkpoint %s: unexpected variable entry %+v at position %d", base, cv, pos)
		}
		t := tensors.FromShape(shapes.Make(cv.DType, cv.Dimensions...))
		var readErr error
		if err := t.MutableBytes(func(data []byte) {
			if len(data) != cv.Length {
				readErr = errors.Errorf("variable %q: %d bytes saved for shape %s (%d bytes)", fullPath, cv.Length, t.Shape(), len(data))
				return
			}
			_, readErr = io.ReadFull(r, data)
		}); err != nil {
			return errors.WithMessagef(err, "checkpoint %s: variable %q", base, fullPath)
		}
		if readErr != nil {
			return errors.Wrapf(readErr, "checkpoint %s: failed to read variable %q", base, fullPath)
		}
		pos += cv.Length
		if v := store.GetVariable(fullPath); v != nil {
			if err := v.SetValue(t); err != nil {
				return errors.WithMessagef(err, "checkpoint %s: variable %q", base, fullPath)
			}
		} else {
			store.VariableWithValue(fullPath, t)
		}
	}
	return nil
}

// decodeParam converts a JSON-decoded parameter value back to its saved Go type.
func decodeParam(p checkpointParam) (any, error) {
	switch value := p.Value.(type) {
	case float64:
		switch p.ValueType {
		case "float64":
			return value, nil
		case "float32":
			return float32(value), nil
		case "int":
			return int(value), nil
		case "int32":
			return int32(value), nil
		case "int64":
			return int64(value), nil
		}
	case string, bool, nil:
		return value, nil
	case []any:
		switch p.ValueType {
		case "[]int":
			ints := make([]int, len(value))
			for i, x := range value {
				f, _ := x.(float64)
				ints[i] = int(f)
			}
			return ints, nil
		case "[]float64":
			fs := make([]float64, len(value))
			for i, x := range value {
				fs[i], _ = x.(float64)
			}
			return fs, nil
		case "[]string":
			ss := make([]string, len(value))
			for i, x := range value {
				ss[i], _ = x.(string)
			}
			return ss, nil
		}
	}
	return nil, errors.Errorf("hyperparameter %q of type %s cannot be restored from %#v",
		model.JoinPath(p.Scope, p.Key), p.ValueType, p.Value)
}

// writeCheckpointFile writes a checkpoint file whole (outfile.Write: a
// temporary file in the same directory, synced, renamed into place) through
// fn, buffered.
func writeCheckpointFile(path string, fn func(w io.Writer) error) error {
	return outfile.Write(path, 0o600, func(f io.Writer) error {
		w := bufio.NewWriterSize(f, 1<<20)
		if err := fn(w); err != nil {
			return err
		}
		return w.Flush()
	})
}

// isCheckpointTemporary reports whether a file name is the temporary file of
// a checkpoint save (outfile's ".NAME.tmp-*", or ".tmp-NAME-*" from older
// versions).
func isCheckpointTemporary(name string) bool {
	return strings.HasPrefix(name, checkpointTmpStart) ||
		(strings.HasPrefix(name, "."+checkpointPrefix) && strings.Contains(name, ".tmp-"))
}
