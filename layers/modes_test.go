package layers

import (
	"encoding/json"
	"testing"

	"github.com/gomlx/gomlx/ml/model"
	"github.com/stretchr/testify/require"
)

// TestModeNames: each schedule and threshold source has one name, which
// parses back to it, as text, JSON and flag values do; other names and
// values are errors that list the valid names.
func TestModeNames(t *testing.T) {
	for s, name := range map[Schedule]string{ScheduleCosine: "cosine", ScheduleLinear: "linear", ScheduleStaged: "staged"} {
		require.Equal(t, name, s.String())
		got, err := ParseSchedule(name)
		require.NoError(t, err)
		require.Equal(t, s, got)
		data, err := json.Marshal(s)
		require.NoError(t, err)
		require.Equal(t, `"`+name+`"`, string(data))
		var back Schedule
		require.NoError(t, json.Unmarshal(data, &back))
		require.Equal(t, s, back)
	}
	for src, name := range map[ThresholdSource]string{ThresholdBatch: "batch", ThresholdGG: "gg"} {
		require.Equal(t, name, src.String())
		got, err := ParseThresholdSource(name)
		require.NoError(t, err)
		require.Equal(t, src, got)
		data, err := json.Marshal(src)
		require.NoError(t, err)
		var back ThresholdSource
		require.NoError(t, json.Unmarshal(data, &back))
		require.Equal(t, src, back)
	}
	_, err := ParseSchedule("exp")
	require.EqualError(t, err, `schedule "exp": want "cosine", "linear" or "staged"`)
	_, err = ParseThresholdSource("median")
	require.EqualError(t, err, `threshold source "median": want "batch" or "gg"`)
	require.Equal(t, "unknown(3)", Schedule(3).String())
	_, err = Schedule(3).MarshalText()
	require.Error(t, err)
	_, err = ThresholdSource(-1).MarshalText()
	require.Error(t, err)
}

// TestACTModesFromScope: ACT reads its schedule and threshold source from
// the scope, by name (as the command line sets them) or typed; a bad name
// panics naming the hyperparameter.
func TestACTModesFromScope(t *testing.T) {
	scope := model.NewStore().RootScope()
	c := ACT(scope, nil)
	require.Equal(t, ScheduleCosine, c.schedule)
	require.Equal(t, ThresholdBatch, c.threshold)

	scope.SetParam(ParamSchedule, "staged")
	scope.SetParam(ParamThreshold, "gg")
	c = ACT(scope, nil)
	require.Equal(t, ScheduleStaged, c.schedule)
	require.Equal(t, ThresholdGG, c.threshold)
	// GoMLX's own reader parses the names too (through UnmarshalText).
	require.Equal(t, ScheduleStaged, model.GetParamOr(scope, ParamSchedule, ScheduleCosine))

	scope.SetParam(ParamSchedule, ScheduleLinear)
	require.Equal(t, ScheduleLinear, ACT(scope, nil).schedule)

	scope.SetParam(ParamSchedule, "exp")
	require.PanicsWithError(t, `layers.ACT: hyperparameter "act_schedule": schedule "exp": want "cosine", "linear" or "staged"`,
		func() { ACT(scope, nil) })
	scope.SetParam(ParamSchedule, 1.5)
	require.Panics(t, func() { ACT(scope, nil) })
}
