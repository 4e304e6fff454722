package layers

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/support/exceptions"
)

// Schedule is the shape of ACT's ramp: how its progress goes from 0 at the
// ramp's start step to 1 at its end step (ParamSchedule). Its text form, which
// the hyperparameter and the command line take, is its String.
type Schedule int

const (
	// ScheduleCosine follows half a cosine, (1-cos(pi t))/2 of the fraction t
	// of the ramp done (the default).
	ScheduleCosine Schedule = iota
	// ScheduleLinear is linear in the step.
	ScheduleLinear
	// ScheduleStaged rises in four cosine-shaped steps (ProSparse-like).
	ScheduleStaged
)

// scheduleNames are the text forms of the schedules, indexed by Schedule.
var scheduleNames = []string{ScheduleCosine: "cosine", ScheduleLinear: "linear", ScheduleStaged: "staged"}

// String returns "cosine", "linear" or "staged", the values ParamSchedule takes.
func (s Schedule) String() string { return modeName(scheduleNames, int(s)) }

// ParseSchedule returns the schedule named name ("cosine", "linear" or "staged").
func ParseSchedule(name string) (Schedule, error) {
	i, err := parseMode("schedule", scheduleNames, name)
	return Schedule(i), err
}

// MarshalText implements encoding.TextMarshaler: the schedule's name.
func (s Schedule) MarshalText() ([]byte, error) {
	return marshalMode("schedule", scheduleNames, int(s))
}

// UnmarshalText implements encoding.TextUnmarshaler (ParseSchedule), so a
// Schedule can be a flag (flag.TextVar), a JSON field or a scope parameter
// read with model.GetParamOr.
func (s *Schedule) UnmarshalText(text []byte) error {
	v, err := ParseSchedule(string(text))
	if err == nil {
		*s = v
	}
	return err
}

// ThresholdSource is where ACT's threshold comes from (ParamThreshold). Its
// text form, which the hyperparameter and the command line take, is its String.
type ThresholdSource int

const (
	// ThresholdBatch is the batch's own quantile of |x|, found by bisection (the default).
	ThresholdBatch ThresholdSource = iota
	// ThresholdGG is the quantile of |x| under the GG fitted to x.
	ThresholdGG
)

// thresholdNames are the text forms of the threshold sources, indexed by ThresholdSource.
var thresholdNames = []string{ThresholdBatch: "batch", ThresholdGG: "gg"}

// String returns "batch" or "gg", the values ParamThreshold takes.
func (t ThresholdSource) String() string { return modeName(thresholdNames, int(t)) }

// ParseThresholdSource returns the threshold source named name ("batch" or "gg").
func ParseThresholdSource(name string) (ThresholdSource, error) {
	i, err := parseMode("threshold source", thresholdNames, name)
	return ThresholdSource(i), err
}

// MarshalText implements encoding.TextMarshaler: the source's name.
func (t ThresholdSource) MarshalText() ([]byte, error) {
	return marshalMode("threshold source", thresholdNames, int(t))
}

// UnmarshalText implements encoding.TextUnmarshaler (ParseThresholdSource),
// as Schedule.UnmarshalText does.
func (t *ThresholdSource) UnmarshalText(text []byte) error {
	v, err := ParseThresholdSource(string(text))
	if err == nil {
		*t = v
	}
	return err
}

// modeName returns names[i], or "unknown(i)" outside names.
func modeName(names []string, i int) string {
	if i < 0 || i >= len(names) {
		return "unknown(" + strconv.Itoa(i) + ")"
	}
	return names[i]
}

// parseMode returns the index of name in names, or an error naming the kind
// of mode and the valid names (the caller says whose).
func parseMode(kind string, names []string, name string) (int, error) {
	for i, n := range names {
		if n == name {
			return i, nil
		}
	}
	return 0, fmt.Errorf("%s %q: want %s", kind, name, quotedList(names))
}

// marshalMode returns names[i], or an error outside names.
func marshalMode(kind string, names []string, i int) ([]byte, error) {
	if i < 0 || i >= len(names) {
		return nil, fmt.Errorf("%s %d: want one of %s", kind, i, quotedList(names))
	}
	return []byte(names[i]), nil
}

// quotedList returns `"a", "b" or "c"`.
func quotedList(names []string) string {
	quoted := make([]string, len(names))
	for i, n := range names {
		quoted[i] = strconv.Quote(n)
	}
	if len(quoted) < 2 {
		return strings.Join(quoted, "")
	}
	return strings.Join(quoted[:len(quoted)-1], ", ") + " or " + quoted[len(quoted)-1]
}

// modeParam returns the scope's hyperparameter key as a T: a T as set, or
// the name of one (a string, as the command line gives it), parsed by parse;
// def if unset. Anything else panics, naming the key.
func modeParam[T any](scope *model.Scope, key string, def T, parse func(string) (T, error)) T {
	value, found := scope.GetParam(key)
	if !found || value == nil {
		return def
	}
	switch v := value.(type) {
	case T:
		return v
	case string:
		t, err := parse(v)
		if err != nil {
			exceptions.Panicf("layers.ACT: hyperparameter %q: %v", key, err)
		}
		return t
	}
	exceptions.Panicf("layers.ACT: hyperparameter %q=%#v (%T), want a %T or its name", key, value, value, def)
	return def
}
