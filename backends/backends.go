package backends

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/gobackend"
	"github.com/pkg/errors"
)

// EnvVar is the environment variable that selects a backend, as in GoMLX.
const EnvVar = compute.ConfigEnvVar

// GoDefaultConfig is the pure-Go backend configuration used when GOMLX_BACKEND
// is unset: "parallelism=-1" (no cap on the worker pool; the Go scheduler still
// runs at most GOMAXPROCS threads). With the pool's default cap, GoMLX's Go
// backend (compute v0.1.0) deadlocks in training runs: a worker that goes to
// sleep waiting for its inputs raises the cap without waking the tasks already
// waiting for a slot. An uncapped pool never waits for a slot. It also prints
// one line of its own ("Go backend: parallelism set to -1").
const GoDefaultConfig = "go:parallelism=-1"

// xlaProbe is set by the "xla" build: it returns the config of an installed
// PJRT plugin ("xla:cpu", "xla:cuda", ...) or "" when none is found.
var xlaProbe func() string

// XLALinked reports whether this binary was built with XLA support (the "xla"
// build tag).
func XLALinked() bool { return xlaProbe != nil }

// Choice describes the backend that Select picked and why.
type Choice struct {
	// Config is the GoMLX backend configuration ("go", "xla:cuda", ...).
	Config string
	// Reason is a short explanation: "GOMLX_BACKEND", "PJRT plugin found", "default".
	Reason string
}

// String returns a one-line notice, e.g. `backend: go (default; no PJRT plugin found)`.
func (c Choice) String() string {
	return fmt.Sprintf("backend: %s (%s)", c.Config, c.Reason)
}

// Select decides which backend configuration to use, without creating it.
func Select() Choice {
	if cfg, found := os.LookupEnv(EnvVar); found && strings.TrimSpace(cfg) != "" {
		return Choice{Config: strings.TrimSpace(cfg), Reason: "from $" + EnvVar}
	}
	if xlaProbe == nil {
		return Choice{Config: GoDefaultConfig, Reason: "default; built without XLA"}
	}
	if cfg := xlaProbe(); cfg != "" {
		return Choice{Config: cfg, Reason: "PJRT plugin found"}
	}
	return Choice{Config: GoDefaultConfig, Reason: "default; no PJRT plugin found"}
}

// New creates the backend chosen by Select, and writes the one-line notice of
// which was chosen to w (nil for no notice).
//
// When GOMLX_BACKEND is unset and the XLA backend fails to start, it falls back
// to the pure-Go backend (and says so). When GOMLX_BACKEND is set, its failure
// is returned as an error: the user asked for that backend.
func New(w io.Writer) (compute.Backend, error) {
	return NewWithOptions(w, Options{})
}

// Options are the settings of NewWithOptions.
type Options struct {
	// Deterministic asks for a bit-reproducible backend: on XLA, it sets
	// XLA_FLAGS (see WithDeterministicXLAFlags) before the backend is created,
	// which must happen before the process's first XLA backend (XLA reads its
	// flags once); on the pure-Go backend, which is deterministic already, it
	// changes nothing. Programs usually resolve it from a -deterministic flag
	// and DeterministicEnvVar with Determinism.Resolve.
	Deterministic bool
}

// NewWithOptions is New with options: it creates the backend chosen by
// Select with opts applied, and writes the one-line notice of which was
// chosen to w (nil for no notice); the notice says when the backend runs
// deterministic ("deterministic XLA ops", or "deterministic: pure Go").
// Asking for determinism after the process opened an XLA backend without it
// is an error.
func NewWithOptions(w io.Writer, opts Options) (compute.Backend, error) {
	choice := Select()
	if !isGoConfig(choice.Config) {
		if err := applyDeterministicXLA(opts.Deterministic); err != nil {
			return nil, err
		}
	}
	// Only a configuration from $GOMLX_BACKEND can ask for XLA in a binary built
	// without it (Select picks XLA only where it is linked): name the variable.
	backend, err := open(choice.Config, EnvVar)
	if err != nil && choice.Reason == "PJRT plugin found" {
		fallback := Choice{Config: GoDefaultConfig, Reason: fmt.Sprintf("XLA failed to start: %v", firstLine(err))}
		choice = fallback
		backend, err = Open(choice.Config)
	}
	if err != nil {
		return nil, err
	}
	switch {
	case !opts.Deterministic:
	case isGoConfig(choice.Config):
		choice.Reason += "; deterministic: pure Go"
	case DeterministicXLA():
		choice.Reason += "; deterministic XLA ops"
	}
	if w != nil {
		fmt.Fprintln(w, choice.String())
	}
	return backend, nil
}

// isGoConfig reports whether config names the pure-Go backend ("go" or "go:OPTIONS").
func isGoConfig(config string) bool {
	name, _, _ := strings.Cut(config, ":")
	return name == gobackend.BackendName
}

// MustNew is New that panics on error.
func MustNew(w io.Writer) compute.Backend {
	b, err := New(w)
	if err != nil {
		panic(err)
	}
	return b
}

var (
	goBackendsMu sync.Mutex
	goBackends   = map[string]compute.Backend{}
)

// Open creates the backend that config names, in GOMLX_BACKEND's syntax ("go",
// "go:parallelism=-1", "xla:cpu", "xla:cuda", "xla:/path/to/xla_cuda_plugin.so",
// ...), as given: none of Select's rules apply and nothing falls back to
// another backend, so a backend that does not open is an error (GoMLX's panics
// included, turned into errors). It is what New uses once Select has chosen,
// for callers that take their configuration from elsewhere, e.g. the tests'
// GGPRIOR_TEST_BACKEND (see package internal/testbackend).
//
// A pure-Go configuration ("go" or "go:OPTIONS") is opened once per process
// and options string, and the same backend is returned to every later call, as
// gobackend.GetBackend does for its own: Open(GoDefaultConfig) returns the
// backend that Go does. Any other configuration opens a new backend on each
// call: callers that want one per process keep it. In a binary built without
// the "xla" build tag, a configuration naming XLA ("xla", "stablehlo", "hlo"
// or "pjrt") is an error that says how to rebuild.
func Open(config string) (compute.Backend, error) {
	return open(config, "")
}

// open is Open; source, when not empty, is the environment variable config
// came from, which the error for XLA in a binary built without it names
// ("GOMLX_BACKEND=\"xla:cpu\" asks for XLA ...", rather than
// "backend \"xla:cpu\" asks for XLA ...").
func open(config, source string) (backend compute.Backend, err error) {
	name, goConfig, _ := strings.Cut(config, ":")
	if name == gobackend.BackendName {
		// One Go backend per configuration and process, as gobackend.GetBackend does.
		goBackendsMu.Lock()
		defer goBackendsMu.Unlock()
		if b, ok := goBackends[goConfig]; ok {
			return b, nil
		}
		b, err := gobackend.New(goConfig)
		if err != nil {
			return nil, errors.WithMessagef(err, "failed to create backend %q", config)
		}
		goBackends[goConfig] = b
		return b, nil
	}
	if (name == "xla" || name == "stablehlo" || name == "hlo" || name == "pjrt") && xlaProbe == nil {
		what := fmt.Sprintf("backend %q", config)
		if source != "" {
			what = fmt.Sprintf("%s=%q", source, config)
		}
		return nil, errors.Errorf("%s asks for XLA, but this binary was built without it: "+
			"rebuild with `-tags xla` (needs cgo) and install a PJRT plugin", what)
	}
	defer func() {
		if r := recover(); r != nil {
			backend = nil
			err = errors.Errorf("failed to create backend %q: %v", config, r)
		}
	}()
	backend, err = compute.NewWithConfig(config)
	if err != nil {
		return nil, errors.WithMessagef(err, "failed to create backend %q", config)
	}
	markXLAOpened()
	return backend, nil
}

func firstLine(err error) string {
	s, _, _ := strings.Cut(err.Error(), "\n")
	return s
}

// Go returns the process's pure-Go backend with GoDefaultConfig, for tests and
// tools that must not depend on GOMLX_BACKEND. It panics if the backend cannot
// be created (it always can: it is pure Go).
func Go() compute.Backend {
	b, err := Open(GoDefaultConfig)
	if err != nil {
		panic(err)
	}
	return b
}
