package optimizers

import (
	"fmt"

	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/support/exceptions"
)

// ParamCoder is the hyperparameter of the entropy coder of GCT's GG quantizer
// when the builder leaves it unset (GCTConfig.Coder): a Coder or its name,
// "expgolomb" (the default, DefaultCoder) or "rans".
const ParamCoder = "gct_coder"

// Coder is the entropy coder of the GG quantizer's integers: it sets both the
// rate table that picks the quantization step for the target bits per element
// and the wire form (Coding) of the result. Its text form, which ParamCoder and
// the command line take, is its String.
type Coder int

const (
	// CoderExpGolomb codes each integer with an Exp-Golomb code of order k
	// (package expgolomb, CodingExpGolomb): simple and fast, but at least 1
	// bit per element (a zero costs 1 bit), so targets must be above k+1 bits.
	CoderExpGolomb Coder = iota

	// CoderRANS codes the integers with the rANS coder of package ggrans,
	// whose probability model is the fitted GG itself (CodingGGRANS): within
	// a fraction of a percent of the integers' entropy, so any target above 0
	// is reachable (0.5 bits per element costs 57% less than Exp-Golomb's
	// best; 2 bits 9% less), for a slower decoder and a fixed 56-byte frame
	// per tensor.
	CoderRANS
)

// DefaultCoder is the coder of the GG quantizer when neither the builder nor
// the scope's ParamCoder sets one.
const DefaultCoder = CoderExpGolomb

// coderNames are the text forms of the coders, indexed by Coder.
var coderNames = []string{CoderExpGolomb: "expgolomb", CoderRANS: "rans"}

// String returns "expgolomb" or "rans", the values ParamCoder takes.
func (c Coder) String() string {
	if c < 0 || int(c) >= len(coderNames) {
		return fmt.Sprintf("unknown(%d)", int(c))
	}
	return coderNames[c]
}

// ParseCoder returns the coder named name ("expgolomb" or "rans").
func ParseCoder(name string) (Coder, error) {
	for i, n := range coderNames {
		if n == name {
			return Coder(i), nil
		}
	}
	return 0, fmt.Errorf("coder %q: want %q or %q", name, coderNames[CoderExpGolomb], coderNames[CoderRANS])
}

// MarshalText implements encoding.TextMarshaler: the coder's name.
func (c Coder) MarshalText() ([]byte, error) {
	if c < 0 || int(c) >= len(coderNames) {
		return nil, fmt.Errorf("coder %d: want %q or %q", int(c), coderNames[CoderExpGolomb], coderNames[CoderRANS])
	}
	return []byte(coderNames[c]), nil
}

// UnmarshalText implements encoding.TextUnmarshaler (ParseCoder), so a Coder
// can be a flag (flag.TextVar), a JSON field or a scope parameter read with
// model.GetParamOr.
func (c *Coder) UnmarshalText(text []byte) error {
	v, err := ParseCoder(string(text))
	if err == nil {
		*c = v
	}
	return err
}

// CoderFromScope returns the coder of the scope's ParamCoder hyperparameter
// (a Coder or its name; DefaultCoder if unset). It panics (GoMLX style) on
// another value.
func CoderFromScope(scope *model.Scope) Coder {
	value, found := scope.GetParam(ParamCoder)
	if !found || value == nil {
		return DefaultCoder
	}
	switch v := value.(type) {
	case Coder:
		if _, err := v.MarshalText(); err != nil {
			exceptions.Panicf("optimizers.GCT: hyperparameter %s: %v", ParamCoder, err)
		}
		return v
	case string:
		c, err := ParseCoder(v)
		if err != nil {
			exceptions.Panicf("optimizers.GCT: hyperparameter %s: %v", ParamCoder, err)
		}
		return c
	}
	exceptions.Panicf("optimizers.GCT: hyperparameter %s=%#v (%T), want a Coder or its name (%q or %q)",
		ParamCoder, value, value, coderNames[CoderExpGolomb], coderNames[CoderRANS])
	return DefaultCoder
}
