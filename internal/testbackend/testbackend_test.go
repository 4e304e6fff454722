package testbackend

import (
	"os"
	"os/exec"
	"testing"

	"github.com/ggprior/ggprior/backends"
	"github.com/stretchr/testify/require"
)

// TestOpen: no configuration is the Go backend; a configuration that does not
// open is an error that names the variable and the value.
func TestOpen(t *testing.T) {
	b, err := open("")
	require.NoError(t, err)
	require.Same(t, backends.Go(), b)

	_, err = open("nosuch")
	require.ErrorContains(t, err, "$"+EnvVar+": ")
	require.ErrorContains(t, err, `"nosuch"`)

	if !backends.XLALinked() {
		_, err = open("xla:cuda")
		require.ErrorContains(t, err, "$"+EnvVar+": ")
		require.ErrorContains(t, err, `backend "xla:cuda" asks for XLA`)
		require.ErrorContains(t, err, "-tags xla")
	}
}

// TestGet: Get returns the Go backend by default, and the same backend on
// every call; Name says which.
func TestGet(t *testing.T) {
	b := Get(t)
	require.NotNil(t, b)
	require.Same(t, b, Get(t))
	if config() == "" {
		require.Same(t, backends.Go(), b)
		require.Equal(t, "go", Name())
	} else {
		require.Equal(t, config(), Name())
	}
}

// helperEnv marks the run of this test binary that TestGetFailsOnBadBackend
// starts, in which TestGetFailsOnBadBackend itself calls Get.
const helperEnv = "GGPRIOR_TESTBACKEND_HELPER"

// TestGetFailsOnBadBackend runs this test binary again with
// GGPRIOR_TEST_BACKEND=nosuch: Get fails the test (no fallback to the Go
// backend), with a message that names the variable and the value.
func TestGetFailsOnBadBackend(t *testing.T) {
	if os.Getenv(helperEnv) == "1" {
		Get(t)
		t.Log("Get returned") // Not reached: Get stops the test.
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestGetFailsOnBadBackend$", "-test.v")
	cmd.Env = append(os.Environ(), EnvVar+"=nosuch", helperEnv+"=1")
	out, err := cmd.CombinedOutput()
	require.Error(t, err, "the helper run passed:\n%s", out)
	var exitErr *exec.ExitError
	require.ErrorAs(t, err, &exitErr, "%s", out)
	require.Contains(t, string(out), "--- FAIL: TestGetFailsOnBadBackend")
	require.Contains(t, string(out), "testbackend: $"+EnvVar+`: failed to create backend "nosuch"`)
	require.NotContains(t, string(out), "Get returned")
}
