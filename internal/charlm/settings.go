package charlm

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/gomlx/gomlx/ml/model"
	"github.com/pkg/errors"
)

// parseSettings applies hyperparameter settings to the store, the way GoMLX's
// ui/commandline.ParseSettings does (the -set flag): a list of "param=value"
// separated by ";". Every param must already have a default value in the root
// scope, whose type decides how the value is parsed (int, float, bool, string and
// lists of them as "a,b,c"; "_" is allowed in integers: 1_000). A param may be
// given with a scope ("block_000/param=value") to set it only there. An element
// "file:PATH" reads more settings from a file, one or more per line, "#" starting
// a comment line. It returns the full paths of the parameters set.
//
// It is a port of GoMLX's parser, which lives in a package this module cannot
// import yet (ui/commandline pulls in terminal UI dependencies).
func parseSettings(store *model.Store, settings string) (modified []string, err error) {
	for setting := range strings.SplitSeq(settings, ";") {
		if modified, err = parseSetting(store, strings.TrimSpace(setting), modified); err != nil {
			return nil, err
		}
	}
	return modified, nil
}

func parseSetting(store *model.Store, setting string, modified []string) ([]string, error) {
	if setting == "" {
		return modified, nil
	}
	if filePath, ok := strings.CutPrefix(setting, "file:"); ok {
		contents, err := os.ReadFile(filePath)
		if err != nil {
			return nil, errors.Wrapf(err, "failed to read settings file")
		}
		for line := range strings.SplitSeq(string(contents), "\n") {
			line = strings.TrimSpace(line)
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			for s := range strings.SplitSeq(line, ";") {
				if modified, err = parseSetting(store, strings.TrimSpace(s), modified); err != nil {
					return nil, err
				}
			}
		}
		return modified, nil
	}

	paramPath, valueStr, ok := strings.Cut(setting, "=")
	if !ok || strings.Contains(valueStr, "=") {
		return nil, errors.Errorf("cannot parse setting %q: the format is \"<param>=<value>\"", setting)
	}
	paramPath, valueStr = strings.TrimSpace(paramPath), strings.TrimSpace(valueStr)
	name := model.BasePath(paramPath)
	if name == "" || name == "." || name == "/" {
		return nil, errors.Errorf("cannot parse setting %q: empty parameter name", setting)
	}
	if strings.HasPrefix(name, internalParamPrefix) {
		return nil, errors.Errorf("parameter %q is internal state of the run and cannot be set", name)
	}
	current, found := store.RootScope().GetParam(name)
	if !found {
		return nil, errors.Errorf("unknown parameter %q in setting %q: known parameters are %s",
			name, setting, strings.Join(SettableParams(store), ", "))
	}
	value, err := parseValueLike(current, valueStr)
	if err != nil {
		return nil, errors.Wrapf(err, "failed to parse value %q for parameter %q (default value is %#v)", valueStr, paramPath, current)
	}
	if !strings.HasPrefix(paramPath, model.ScopeSeparator) {
		paramPath = model.ScopeSeparator + paramPath
	}
	store.SetParam(paramPath, value)
	return append(modified, paramPath), nil
}

// parseValueLike parses s into a value of the same type as like.
func parseValueLike(like any, s string) (any, error) {
	unmarshal := func(str string, ptr any) error { return json.Unmarshal([]byte(str), ptr) }
	noUnderscore := func(str string) string { return strings.ReplaceAll(str, "_", "") }
	switch like.(type) {
	case int:
		var v int
		return v, unmarshal(noUnderscore(s), &v)
	case int32:
		var v int32
		return v, unmarshal(noUnderscore(s), &v)
	case int64:
		var v int64
		return v, unmarshal(noUnderscore(s), &v)
	case uint64:
		var v uint64
		return v, unmarshal(noUnderscore(s), &v)
	case float64:
		var v float64
		return v, unmarshal(s, &v)
	case float32:
		var v float32
		return v, unmarshal(s, &v)
	case bool:
		var v bool
		return v, unmarshal(s, &v)
	case string:
		return s, nil
	case []string:
		return strings.Split(s, ","), nil
	case []int:
		var out []int
		for part := range strings.SplitSeq(s, ",") {
			var v int
			if err := unmarshal(noUnderscore(strings.TrimSpace(part)), &v); err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	case []float64:
		var out []float64
		for part := range strings.SplitSeq(s, ",") {
			var v float64
			if err := unmarshal(strings.TrimSpace(part), &v); err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	default:
		return nil, fmt.Errorf("parameters of type %T cannot be set from the command line", like)
	}
}

// SettableParams lists the root-scope hyperparameters of the store with their
// current values ("key=value"), sorted, excluding internal run state.
func SettableParams(store *model.Store) []string {
	var out []string
	for fullPath, value := range store.IterParams() {
		scope, key := model.SplitPath(fullPath)
		if scope != model.RootScopePath || strings.HasPrefix(key, internalParamPrefix) {
			continue
		}
		out = append(out, fmt.Sprintf("%s=%v", key, value))
	}
	sort.Strings(out)
	return out
}
