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
	choice := Select()
	backend, err := open(choice.Config)
	if err != nil && choice.Reason == "PJRT plugin found" {
		fallback := Choice{Config: GoDefaultConfig, Reason: fmt.Sprintf("XLA failed to start: %v", firstLine(err))}
		choice = fallback
		backend, err = open(choice.Config)
	}
	if err != nil {
		return nil, err
	}
	if w != nil {
		fmt.Fprintln(w, choice.String())
	}
	return backend, nil
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

// open creates the backend for config, turning GoMLX's panics into errors.
func open(config string) (backend compute.Backend, err error) {
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
		return nil, errors.Errorf("%s=%q asks for XLA, but this binary was built without it: "+
			"rebuild with `-tags xla` (needs cgo) and install a PJRT plugin", EnvVar, config)
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
	b, err := open(GoDefaultConfig)
	if err != nil {
		panic(err)
	}
	return b
}
