package backends

import (
	"os"
	"strconv"
	"strings"
	"sync"

	"github.com/pkg/errors"
)

// DeterministicEnvVar is the environment variable that asks for a
// bit-reproducible backend when a program's -deterministic flag is not given:
// "1" or "true" for on, "0" or "false" for off, "auto" or empty for the
// program's default (see Determinism.Resolve).
const DeterministicEnvVar = "GGPRIOR_DETERMINISTIC"

// XLAFlagsEnvVar is the environment variable XLA reads its flags from, once
// per process, when its PJRT plugin first needs them.
const XLAFlagsEnvVar = "XLA_FLAGS"

// DeterministicXLAFlags are the XLA flags that make XLA's GPU backend
// bit-reproducible from run to run: --xla_gpu_deterministic_ops (no atomics in
// reductions and scatters, deterministic cuDNN/cuBLAS algorithms, no
// autotuning, whose choice of kernels can change between runs) and
// --xla_gpu_exclude_nondeterministic_ops, which the first implies, given too
// so that the intent survives either flag's reinterpretation. They cost speed:
// measure before comparing step times with runs without them. XLA's CPU
// backend ignores them (they are GPU options); the pure-Go backend needs none
// (its results do not depend on scheduling: each value is computed by one
// goroutine, in a fixed order).
var DeterministicXLAFlags = []string{
	"--xla_gpu_deterministic_ops=true",
	"--xla_gpu_exclude_nondeterministic_ops=true",
}

// WithDeterministicXLAFlags returns the value of XLA_FLAGS that adds
// DeterministicXLAFlags to xlaFlags (the current value, "" for none): any
// setting of those flags in xlaFlags is replaced (the determinism asked for
// wins over an XLA_FLAGS that turns it off), the other flags are kept, in
// their order, and the deterministic ones are appended.
func WithDeterministicXLAFlags(xlaFlags string) string {
	names := map[string]bool{}
	for _, f := range DeterministicXLAFlags {
		name, _, _ := strings.Cut(f, "=")
		names[name] = true
	}
	var kept []string
	for _, f := range strings.Fields(xlaFlags) {
		name, _, _ := strings.Cut(f, "=")
		if !names[name] {
			kept = append(kept, f)
		}
	}
	return strings.Join(append(kept, DeterministicXLAFlags...), " ")
}

// Determinism is the value of a -deterministic flag (a flag.Value that is also
// a boolean flag: "-deterministic" alone is "true"): DeterminismAuto (the
// default: the program decides, see Resolve), DeterminismOn or DeterminismOff.
type Determinism int

const (
	// DeterminismAuto leaves the choice to DeterministicEnvVar, then to the
	// program's default.
	DeterminismAuto Determinism = iota
	// DeterminismOn asks for a bit-reproducible backend.
	DeterminismOn
	// DeterminismOff asks for the backend's fastest settings.
	DeterminismOff
)

// String returns "auto", "true" or "false".
func (d Determinism) String() string {
	switch d {
	case DeterminismOn:
		return "true"
	case DeterminismOff:
		return "false"
	default:
		return "auto"
	}
}

// Set parses "auto" (or "") and the booleans strconv.ParseBool knows ("1",
// "true", "0", "false", ...).
func (d *Determinism) Set(s string) error {
	v, err := parseDeterminism(s)
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// IsBoolFlag makes "-deterministic" alone mean "-deterministic=true".
func (d Determinism) IsBoolFlag() bool { return true }

// parseDeterminism parses a Determinism ("auto", "" or a boolean).
func parseDeterminism(s string) (Determinism, error) {
	s = strings.TrimSpace(s)
	if s == "" || strings.EqualFold(s, "auto") {
		return DeterminismAuto, nil
	}
	on, err := strconv.ParseBool(s)
	if err != nil {
		return DeterminismAuto, errors.Errorf("%q is not a determinism setting: want true, false (or 1, 0) or auto", s)
	}
	if on {
		return DeterminismOn, nil
	}
	return DeterminismOff, nil
}

// Resolve returns whether the run should be deterministic: d itself if it is
// DeterminismOn or DeterminismOff; otherwise DeterministicEnvVar if it is set
// to a boolean; otherwise defaultOn (e.g. "workers >= 2" for a data-parallel
// program, whose ranks must stay bit-identical). An invalid
// DeterministicEnvVar is an error.
func (d Determinism) Resolve(defaultOn bool) (bool, error) {
	if d != DeterminismAuto {
		return d == DeterminismOn, nil
	}
	env, err := parseDeterminism(os.Getenv(DeterministicEnvVar))
	if err != nil {
		return false, errors.WithMessagef(err, "$%s", DeterministicEnvVar)
	}
	if env != DeterminismAuto {
		return env == DeterminismOn, nil
	}
	return defaultOn, nil
}

// xlaState records, for the process, whether an XLA backend was opened and
// with which determinism: XLA reads XLA_FLAGS once, so the first XLA backend
// fixes it for all the others.
var xlaState struct {
	sync.Mutex
	opened        bool
	deterministic bool
}

// applyDeterministicXLA sets XLA_FLAGS (see WithDeterministicXLAFlags) when
// deterministic is true, before an XLA backend is opened, and records what
// the process's XLA uses. It is an error to ask for determinism after an XLA
// backend was opened without it: XLA has read its flags already.
func applyDeterministicXLA(deterministic bool) error {
	xlaState.Lock()
	defer xlaState.Unlock()
	if xlaState.opened {
		if deterministic && !xlaState.deterministic {
			return errors.Errorf("deterministic XLA asked for after an XLA backend was opened without it: "+
				"XLA reads %s once per process; set %s=1 (or -deterministic) from the start", XLAFlagsEnvVar, DeterministicEnvVar)
		}
		return nil
	}
	if deterministic {
		if err := os.Setenv(XLAFlagsEnvVar, WithDeterministicXLAFlags(os.Getenv(XLAFlagsEnvVar))); err != nil {
			return errors.Wrapf(err, "failed to set %s", XLAFlagsEnvVar)
		}
	}
	return nil
}

// markXLAOpened records that an XLA backend is open, with XLA_FLAGS as they
// are now: deterministic if they hold DeterministicXLAFlags.
func markXLAOpened() {
	xlaState.Lock()
	defer xlaState.Unlock()
	if xlaState.opened {
		return
	}
	xlaState.opened = true
	xlaState.deterministic = hasDeterministicXLAFlags(os.Getenv(XLAFlagsEnvVar))
}

// hasDeterministicXLAFlags reports whether xlaFlags holds every one of
// DeterministicXLAFlags (the last setting of a flag counts, as in XLA).
func hasDeterministicXLAFlags(xlaFlags string) bool {
	last := map[string]string{}
	for _, f := range strings.Fields(xlaFlags) {
		name, value, found := strings.Cut(f, "=")
		if !found {
			value = "true" // A boolean flag given alone.
		}
		last[name] = value
	}
	for _, f := range DeterministicXLAFlags {
		name, value, _ := strings.Cut(f, "=")
		if v, ok := last[name]; !ok || !(v == value || v == "1" && value == "true") {
			return false
		}
	}
	return true
}

// DeterministicXLA reports whether this process's XLA uses
// DeterministicXLAFlags: whether XLA_FLAGS held them when its first XLA
// backend was opened, or, if none was opened yet, whether they hold them now.
func DeterministicXLA() bool {
	xlaState.Lock()
	defer xlaState.Unlock()
	if xlaState.opened {
		return xlaState.deterministic
	}
	return hasDeterministicXLAFlags(os.Getenv(XLAFlagsEnvVar))
}
