package backends

import (
	"bytes"
	"flag"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestWithDeterministicXLAFlags(t *testing.T) {
	const both = "--xla_gpu_deterministic_ops=true --xla_gpu_exclude_nondeterministic_ops=true"
	require.Equal(t, both, WithDeterministicXLAFlags(""))
	require.Equal(t, "--xla_gpu_cuda_data_dir=/x --foo "+both,
		WithDeterministicXLAFlags("  --xla_gpu_cuda_data_dir=/x --xla_gpu_deterministic_ops=false --foo "))
	require.Equal(t, both, WithDeterministicXLAFlags(WithDeterministicXLAFlags(both)), "idempotent")

	require.True(t, hasDeterministicXLAFlags(both))
	require.True(t, hasDeterministicXLAFlags("--xla_gpu_deterministic_ops --xla_gpu_exclude_nondeterministic_ops=1"))
	require.False(t, hasDeterministicXLAFlags("--xla_gpu_deterministic_ops=true"))
	require.False(t, hasDeterministicXLAFlags(both+" --xla_gpu_deterministic_ops=false"), "the last setting counts")
	require.False(t, hasDeterministicXLAFlags(""))
}

func TestDeterminismFlag(t *testing.T) {
	parse := func(args ...string) Determinism {
		fs := flag.NewFlagSet("test", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		var d Determinism
		fs.Var(&d, "deterministic", "")
		require.NoError(t, fs.Parse(args))
		return d
	}
	require.Equal(t, DeterminismAuto, parse())
	require.Equal(t, DeterminismOn, parse("-deterministic"))
	require.Equal(t, DeterminismOn, parse("-deterministic=1"))
	require.Equal(t, DeterminismOff, parse("-deterministic=false"))
	require.Equal(t, DeterminismAuto, parse("-deterministic=auto"))
	var d Determinism
	require.ErrorContains(t, d.Set("maybe"), "auto")
	require.Equal(t, "auto", DeterminismAuto.String())
	require.Equal(t, "true", DeterminismOn.String())
	require.Equal(t, "false", DeterminismOff.String())
}

func TestDeterminismResolve(t *testing.T) {
	for _, tc := range []struct {
		d         Determinism
		env       string
		defaultOn bool
		want      bool
	}{
		{DeterminismAuto, "", false, false},
		{DeterminismAuto, "", true, true},
		{DeterminismAuto, "auto", true, true},
		{DeterminismAuto, "1", false, true},
		{DeterminismAuto, "0", true, false},
		{DeterminismOn, "0", false, true},
		{DeterminismOff, "1", true, false},
	} {
		t.Setenv(DeterministicEnvVar, tc.env)
		got, err := tc.d.Resolve(tc.defaultOn)
		require.NoError(t, err)
		require.Equal(t, tc.want, got, "%v with $%s=%q, default %v", tc.d, DeterministicEnvVar, tc.env, tc.defaultOn)
	}
	t.Setenv(DeterministicEnvVar, "yes please")
	_, err := DeterminismAuto.Resolve(true)
	require.ErrorContains(t, err, DeterministicEnvVar)
	on, err := DeterminismOn.Resolve(false) // The flag wins; the variable is not read.
	require.NoError(t, err)
	require.True(t, on)
}

// resetXLAState forgets, for a test, that the process opened an XLA backend.
func resetXLAState(t *testing.T) {
	t.Helper()
	xlaState.Lock()
	saved := xlaState.opened
	saved2 := xlaState.deterministic
	xlaState.opened, xlaState.deterministic = false, false
	xlaState.Unlock()
	t.Cleanup(func() {
		xlaState.Lock()
		xlaState.opened, xlaState.deterministic = saved, saved2
		xlaState.Unlock()
	})
}

func TestApplyDeterministicXLA(t *testing.T) {
	resetXLAState(t)
	t.Setenv(XLAFlagsEnvVar, "--xla_dump_to=/tmp/x")
	require.NoError(t, applyDeterministicXLA(false))
	require.False(t, DeterministicXLA(), "not asked: XLA_FLAGS unchanged")
	require.NoError(t, applyDeterministicXLA(true))
	require.True(t, DeterministicXLA())
	markXLAOpened()
	require.NoError(t, applyDeterministicXLA(true), "already deterministic")

	resetXLAState(t)
	t.Setenv(XLAFlagsEnvVar, "")
	markXLAOpened() // An XLA opened without the flags: too late to ask for them.
	require.False(t, DeterministicXLA())
	require.ErrorContains(t, applyDeterministicXLA(true), "once per process")
	require.NoError(t, applyDeterministicXLA(false))
}

func TestNewWithOptionsGo(t *testing.T) {
	t.Setenv(EnvVar, "go")
	t.Setenv(XLAFlagsEnvVar, "")
	var buf bytes.Buffer
	b, err := NewWithOptions(&buf, Options{Deterministic: true})
	require.NoError(t, err)
	require.NotNil(t, b)
	require.Contains(t, buf.String(), "deterministic: pure Go")
	require.Equal(t, 1, strings.Count(buf.String(), "\n"), "one line: %q", buf.String())
	require.Equal(t, "", os.Getenv(XLAFlagsEnvVar), "the pure-Go backend leaves XLA_FLAGS alone")
}
