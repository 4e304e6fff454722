// Package testbackend gives ggprior's tests the compute backend their graphs
// run on: by default the project's pure-Go backend (backends.Go), or, when the
// environment variable GGPRIOR_TEST_BACKEND is set, the backend it names, so
// that the same test binaries can run on an XLA/PJRT accelerator when asked.
//
// GGPRIOR_TEST_BACKEND takes GOMLX_BACKEND's syntax ("go", "xla:cpu",
// "xla:cuda", "xla:/path/to/xla_cuda_plugin.so", ...) and is opened with
// backends.Open: as given, with none of backends.Select's rules and no
// fallback. A backend that was asked for and does not open fails every test
// that calls Get, with the error, rather than quietly running on the Go
// backend. XLA needs a test binary built with cgo and the "xla" build tag,
//
//	CGO_ENABLED=1 go test -tags xla -c -o ggx.test ./ggx/
//	GGPRIOR_TEST_BACKEND=xla:cuda ./ggx.test -test.v
//
// which runs where a PJRT plugin is installed, with no Go toolchain needed
// there; without the tag, asking for XLA is an error that says how to rebuild.
//
// GGPRIOR_TEST_BACKEND is separate from GOMLX_BACKEND on purpose: GOMLX_BACKEND
// still selects the backend of the commands that tests run end to end (through
// backends.New), and a test that is about the Go backend itself keeps calling
// backends.Go.
package testbackend

import (
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/ggprior/ggprior/backends"
	"github.com/gomlx/compute"
	"github.com/pkg/errors"
)

// EnvVar is the environment variable that names the tests' backend; unset or
// blank, the tests run on the pure-Go backend (backends.Go).
const EnvVar = "GGPRIOR_TEST_BACKEND"

// config is the value of EnvVar, trimmed, read once per process: Get and Name
// agree for the whole run even if a test changes the environment.
var config = sync.OnceValue(func() string { return strings.TrimSpace(os.Getenv(EnvVar)) })

// fromEnv is the backend that EnvVar names, opened once per process on the
// first call (the first test that needs it) and kept, never finalized, for the
// rest of the run; it also writes one line to stderr saying which backend the
// tests run on, when it is not the default.
var fromEnv = sync.OnceValues(func() (compute.Backend, error) {
	b, err := open(config())
	if err == nil && config() != "" {
		fmt.Fprintf(os.Stderr, "testbackend: %s=%q: %s\n", EnvVar, config(), b.Description())
	}
	return b, err
})

// open returns the Go backend (backends.Go) for an empty config, and the
// backend config names otherwise (backends.Open), with an error that names
// EnvVar if it does not open.
func open(config string) (compute.Backend, error) {
	if config == "" {
		return backends.Go(), nil
	}
	b, err := backends.Open(config)
	if err != nil {
		return nil, errors.WithMessagef(err, "$%s", EnvVar)
	}
	return b, nil
}

// Get returns the backend the calling test's graphs run on: backends.Go()
// when GGPRIOR_TEST_BACKEND is unset or blank, the backend it names otherwise
// (the same one for every call in the process). If that backend does not
// open, Get fails the test with tb.Fatalf and the error (every test that calls
// it fails the same way): a backend that was asked for is never replaced by
// another.
func Get(tb testing.TB) compute.Backend {
	tb.Helper()
	b, err := fromEnv()
	if err != nil {
		tb.Fatalf("testbackend: %v", err)
	}
	return b
}

// Name returns, for logs, the backend Get returns: "go" by default, the value
// of GGPRIOR_TEST_BACKEND (trimmed) when it is set. It opens nothing.
func Name() string {
	if c := config(); c != "" {
		return c
	}
	return "go"
}
