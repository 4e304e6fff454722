package backends

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSelectHonoursEnv(t *testing.T) {
	t.Setenv(EnvVar, "go")
	c := Select()
	require.Equal(t, "go", c.Config)
	require.Contains(t, c.Reason, EnvVar)
}

func TestNewDefaultsToGo(t *testing.T) {
	t.Setenv(EnvVar, "")
	var buf bytes.Buffer
	b, err := New(&buf)
	require.NoError(t, err)
	require.NotNil(t, b)
	line := buf.String()
	require.True(t, strings.HasPrefix(line, "backend: "), "notice %q", line)
	require.Equal(t, 1, strings.Count(line, "\n"), "the notice is one line: %q", line)
	if !XLALinked() {
		require.Contains(t, line, "backend: "+GoDefaultConfig+" ")
	}
}

func TestXLAWithoutTagIsClearError(t *testing.T) {
	if XLALinked() {
		t.Skip("built with -tags xla: asking for XLA is valid here")
	}
	t.Setenv(EnvVar, "xla:cpu")
	_, err := New(nil)
	require.Error(t, err)
	require.Contains(t, err.Error(), "-tags xla")
}

func TestUnknownBackendIsError(t *testing.T) {
	t.Setenv(EnvVar, "nosuchbackend")
	_, err := New(nil)
	require.Error(t, err)
	require.Contains(t, err.Error(), "nosuchbackend")
}

func TestGoIsSingleton(t *testing.T) {
	require.Same(t, Go(), Go())
	t.Setenv(EnvVar, "")
	b, err := New(nil)
	require.NoError(t, err)
	if !XLALinked() {
		require.Same(t, Go(), b)
	}
}

func TestOpen(t *testing.T) {
	t.Setenv(EnvVar, "xla:cpu") // Open ignores GOMLX_BACKEND.
	b, err := Open(GoDefaultConfig)
	require.NoError(t, err)
	require.Same(t, Go(), b)
	_, err = Open("nosuchbackend")
	require.ErrorContains(t, err, `"nosuchbackend"`)
	if !XLALinked() {
		_, err = Open("xla:cuda")
		require.ErrorContains(t, err, `backend "xla:cuda" asks for XLA`)
		require.ErrorContains(t, err, "-tags xla")
	}
}
