package charlm

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gomlx/compute/dtypes"
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

const (
	checkpointPrefix   = "checkpoint-"
	checkpointJSONExt  = ".json"
	checkpointBinExt   = ".bin"
	checkpointVarKey   = "var:"
	checkpointFormat   = "uncompressed"
	checkpointDirPerms = 0o770
)

// checkpointJSON mirrors GoMLX's checkpoint metadata (serializedData).
type checkpointJSON struct {
	Params    []checkpointParam
	Variables []checkpointVar
	BinFormat string
}

// checkpointVar mirrors GoMLX's serializedVar.
type checkpointVar struct {
	ParameterName string
	Dimensions    []int
	DType         dtypes.DType
	Pos, Length   int
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
	entries, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, errors.Wrapf(err, "failed to list checkpoints")
	}
	var names []string
	for _, e := range entries {
		name := e.Name()
		if !e.IsDir() && strings.HasPrefix(name, checkpointPrefix) && strings.HasSuffix(name, checkpointJSONExt) {
			names = append(names, strings.TrimSuffix(name, checkpointJSONExt))
		}
	}
	sort.Strings(names)
	return names, nil
}

// saveCheckpoint writes every variable and hyperparameter of store to a new
// checkpoint in dir (created if needed), named after the given global step, and
// returns its base name. The binary file is written first and the JSON file last,
// each to a temporary name renamed into place, so an interrupted save never
// leaves a checkpoint that lists but does not load.
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
	err = writeFileAtomically(binPath, func(w io.Writer) error {
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
			meta.Variables = append(meta.Variables, checkpointVar{
				ParameterName: checkpointVarKey + v.Path(), Dimensions: shape.Dimensions, DType: shape.DType,
				Pos: pos, Length: n})
			pos += n
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	err = writeFileAtomically(filepath.Join(dir, base+checkpointJSONExt), func(w io.Writer) error {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "\t")
		return enc.Encode(&meta)
	})
	if err != nil {
		return "", err
	}
	return base, nil
}

// loadCheckpoint reads the checkpoint `base` (a name from ListCheckpoints) from
// dir into store: every hyperparameter is set, and every variable is created (or
// overwritten) with its saved value. Variables created here are trainable (the
// format does not record it): callers mark the others (see
// RunState.NonTrainable). Load into a fresh Store, before building any graph.
func loadCheckpoint(store *model.Store, dir, base string) error {
	jsonBytes, err := os.ReadFile(filepath.Join(dir, base+checkpointJSONExt))
	if err != nil {
		return errors.Wrapf(err, "failed to read checkpoint metadata")
	}
	var meta checkpointJSON
	if err := json.Unmarshal(jsonBytes, &meta); err != nil {
		return errors.Wrapf(err, "failed to decode checkpoint metadata %s", base+checkpointJSONExt)
	}
	if meta.BinFormat != checkpointFormat {
		return errors.Errorf("checkpoint %s: binary format %q not supported (only %q)", base, meta.BinFormat, checkpointFormat)
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

// writeFileAtomically writes a file through fn into a temporary file in the same
// directory and renames it into place.
func writeFileAtomically(path string, fn func(w io.Writer) error) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path)+"-*")
	if err != nil {
		return errors.Wrapf(err, "failed to create %s", path)
	}
	defer func() {
		if err != nil {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()
	w := bufio.NewWriterSize(tmp, 1<<20)
	if err = fn(w); err != nil {
		return err
	}
	if err = w.Flush(); err != nil {
		return errors.Wrapf(err, "failed to write %s", path)
	}
	if err = tmp.Close(); err != nil {
		return errors.Wrapf(err, "failed to write %s", path)
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return errors.Wrapf(err, "failed to write %s", path)
	}
	return nil
}
