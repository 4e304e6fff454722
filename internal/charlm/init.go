package charlm

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/ggprior/ggprior/ggx"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/model/initializer"
	"github.com/pkg/errors"
)

// Kinds of weight matrices. The model tells the [InitFn] which kind each weight
// is, so initialization (and anything else keyed by layer kind, such as a GG shape
// per kind) can treat them differently.
const (
	// KindEmbed is the token embedding table, [Vocab, Width].
	KindEmbed = "embed"
	// KindPos is the learned position embedding table, [Block, Width] (gpt only).
	KindPos = "pos"
	// KindAttnQKV is the fused query/key/value projection, [Width, 3*Width].
	KindAttnQKV = "attn_qkv"
	// KindAttnOut is the attention output projection, [Width, Width]: a residual
	// output projection.
	KindAttnOut = "attn_out"
	// KindMLPIn is the MLP input projection, [Width, Hidden] (the "up" projection of SwiGLU).
	KindMLPIn = "mlp_in"
	// kindMLPGate is the SwiGLU gate projection, [Width, Hidden] (llama only).
	kindMLPGate = "mlp_gate"
	// KindMLPOut is the MLP output projection, [Hidden, Width]: a residual output projection.
	KindMLPOut = "mlp_out"
	// KindHead is the output projection to the vocabulary logits, [Width, Vocab].
	KindHead = "head"
)

// Kinds lists every weight kind, in the order the model creates them.
var Kinds = []string{KindEmbed, KindPos, KindAttnQKV, KindAttnOut, kindMLPGate, KindMLPIn, KindMLPOut, KindHead}

// baselineStdDev is the standard deviation of normal(0, 0.02), the baseline
// (GPT-2 / nanoGPT) initialization of every weight matrix and embedding.
const baselineStdDev = 0.02

// baselineStd returns the baseline standard deviation of a weight of the given
// kind in a model with the given number of layers: 0.02, and 0.02/sqrt(2*layers)
// for the residual output projections (KindAttnOut, KindMLPOut).
func baselineStd(kind string, layers int) float64 {
	if kind == KindAttnOut || kind == KindMLPOut {
		return baselineStdDev / math.Sqrt(2*float64(layers))
	}
	return baselineStdDev
}

// InitFn returns the initializer of one weight matrix, given its kind (one of
// Kinds) and its baseline standard deviation (see baselineStd). The model calls
// it inside the model function, for rank-2 weights only, and applies the result
// with scope.WithInitializer: biases are always zeros and normalization gains
// ones, whatever the InitFn.
//
// The scope is the weight's own scope; an InitFn may use it for random numbers
// (scope.RandomNormal uses the Store's seeded generator) and hyperparameters.
type InitFn func(scope *model.Scope, kind string, std float64) model.VariableInitializer

// Initialization strategy names, for initByName and the -init flag.
const (
	initNameNormal02 = "normal02"
	initNameHe       = "he"
	InitNameGG       = "gg"
)

// initNames lists the strategies initByName knows.
var initNames = []string{initNameNormal02, initNameHe, InitNameGG}

// initNormal02 is the baseline: normal(0, std) with the baseline std of each
// kind (0.02; residual output projections 0.02/sqrt(2*layers)).
func initNormal02() InitFn {
	return func(scope *model.Scope, _ string, std float64) model.VariableInitializer {
		return initializer.RandomNormalFn(scope, std)
	}
}

// initHe is He (Kaiming) normal initialization, fan-in mode: normal(0,
// sqrt(2/fan_in)) with fan_in = shape[0] (the input axis of a GoMLX [in, out]
// kernel; for embedding tables it is the vocabulary or block size). The kind and
// baseline std are ignored: this is GoMLX's own default initializer.
func initHe() InitFn {
	return func(scope *model.Scope, _ string, _ float64) model.VariableInitializer {
		return initializer.HeFn(scope)
	}
}

// initByName returns the strategy with the given name (see initNames). betaSpec is
// only used by "gg" (see ParseBetas) and must be empty for the others.
func initByName(name, betaSpec string) (InitFn, error) {
	switch name {
	case initNameNormal02, "":
		if betaSpec != "" {
			return nil, errors.Errorf("-beta %q is only used with -init=%s", betaSpec, InitNameGG)
		}
		return initNormal02(), nil
	case initNameHe:
		if betaSpec != "" {
			return nil, errors.Errorf("-beta %q is only used with -init=%s", betaSpec, InitNameGG)
		}
		return initHe(), nil
	case InitNameGG:
		if betaSpec == "" {
			return nil, errors.Errorf("-init=%s needs the GG shape: give -beta (e.g. 1.4, or kind=beta pairs)", InitNameGG)
		}
		betas, err := ParseBetas(betaSpec)
		if err != nil {
			return nil, err
		}
		return initGG(betas), nil
	default:
		return nil, errors.Errorf("unknown initialization %q: valid values are %q", name, initNames)
	}
}

// Betas holds the GG shape (beta) per weight kind for the "gg" initialization.
type Betas struct {
	// Default is used for kinds not in PerKind. 0 means 2 (Gaussian: the
	// baseline distribution).
	Default float64

	// PerKind maps a kind (see Kinds) to its beta.
	PerKind map[string]float64
}

// For returns the beta of the given kind.
func (b Betas) For(kind string) float64 {
	if v, ok := b.PerKind[kind]; ok {
		return v
	}
	if b.Default > 0 {
		return b.Default
	}
	return 2
}

// String formats the betas as ParseBetas reads them.
func (b Betas) String() string {
	var parts []string
	if b.Default > 0 {
		parts = append(parts, strconv.FormatFloat(b.Default, 'g', -1, 64))
	}
	kinds := make([]string, 0, len(b.PerKind))
	for k := range b.PerKind {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	for _, k := range kinds {
		parts = append(parts, k+"="+strconv.FormatFloat(b.PerKind[k], 'g', -1, 64))
	}
	return strings.Join(parts, ",")
}

// BetaFitPrefix marks a -beta value that asks to fit the betas per kind from a
// trained checkpoint ("fit:DIR"). ParseBetas does not read checkpoints: the
// command resolves the prefix first (internal/fitbetas.Resolve).
const BetaFitPrefix = "fit:"

// errBetaFitUnsupported is returned by ParseBetas for "fit:DIR" values.
var errBetaFitUnsupported = errors.New("ParseBetas does not read checkpoints: resolve -beta fit:DIR to per-kind betas first (internal/fitbetas.Resolve; the charlm command does)")

// ParseBetas parses a GG shape specification: a single value for every kind
// ("1.4"), per-kind values ("attn_qkv=1.3,mlp_in=1.6"), or both ("1.4,head=2":
// the bare value is the default for kinds not listed; kinds with no value and no
// default get 2, the Gaussian). Every value must be in the range of shapes
// that ggx supports, [ggx.MinBeta, ggx.MaxBeta]. "fit:DIR" is recognised and
// returns errBetaFitUnsupported (wrapped with the directory).
func ParseBetas(spec string) (Betas, error) {
	spec = strings.TrimSpace(spec)
	if dir, ok := strings.CutPrefix(spec, BetaFitPrefix); ok {
		if dir == "" {
			return Betas{}, errors.Errorf("-beta %q: missing checkpoint directory after %q", spec, BetaFitPrefix)
		}
		return Betas{}, errors.Wrapf(errBetaFitUnsupported, "-beta %q", spec)
	}
	if spec == "" {
		return Betas{}, errors.New("empty GG beta specification")
	}
	def, perKind, err := parseKeyedValues("-beta", spec, "layer kind", Kinds, fmt.Sprintf("a shape in [%g, %g]", ggx.MinBeta, ggx.MaxBeta),
		func(v float64) bool { return v >= ggx.MinBeta && v <= ggx.MaxBeta })
	if err != nil {
		return Betas{}, err
	}
	b := Betas{PerKind: perKind}
	if !math.IsNaN(def) {
		b.Default = def
	}
	return b, nil
}

// parseKeyedValues parses a list of values, "v", "key=v,key=v" or both
// ("v,key=v"): a bare value is the default for keys not listed (NaN if none is
// given), keys must be in validKeys (noun names them in errors), and every
// value must satisfy valid (want describes it). flagName starts the errors.
func parseKeyedValues(flagName, spec, noun string, validKeys []string, want string, valid func(float64) bool) (
	def float64, perKey map[string]float64, err error) {
	def, perKey = math.NaN(), map[string]float64{}
	for part := range strings.SplitSeq(spec, ",") {
		part = strings.TrimSpace(part)
		key, valueStr, hasKey := strings.Cut(part, "=")
		if !hasKey {
			valueStr, key = key, ""
		}
		value, err := strconv.ParseFloat(strings.TrimSpace(valueStr), 64)
		if err != nil || !valid(value) {
			return 0, nil, errors.Errorf("%s %q: %q is not %s", flagName, spec, valueStr, want)
		}
		key = strings.TrimSpace(key)
		switch {
		case !hasKey:
			if !math.IsNaN(def) {
				return 0, nil, errors.Errorf("%s %q: more than one default value", flagName, spec)
			}
			def = value
		case !slices.Contains(validKeys, key):
			return 0, nil, errors.Errorf("%s %q: unknown %s %q, valid values are %q", flagName, spec, noun, key, validKeys)
		default:
			if _, dup := perKey[key]; dup {
				return 0, nil, errors.Errorf("%s %q: %s %q given twice", flagName, spec, noun, key)
			}
			perKey[key] = value
		}
	}
	return def, perKey, nil
}
