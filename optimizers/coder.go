package optimizers

import (
	"fmt"

	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/support/exceptions"
)

// ParamCoder is the hyperparameter of the entropy coder of GCT's GG quantizer
// when the builder leaves it unset (GCTConfig.Coder): a Coder or its name,
// "expgolomb" (the default, DefaultCoder), "rans" or "auto".
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
	// per tensor (about 600 bits with the final rANS states: 5 bits per
	// element of a 128-element bias). Its rate has a control (ParamRateGain).
	CoderRANS

	// CoderAuto quantizes every tensor as CoderRANS does (the step of the
	// rANS rate table for the target, with its rate control), and codes each
	// with the coder whose output is expected to be smaller for its size (see
	// AutoCoding): small tensors (biases, norm gains), for which the fixed
	// part of a rANS frame outweighs its gain over Exp-Golomb, travel as
	// order-0 Exp-Golomb codes (CodingExpGolomb, at the rANS table's step:
	// about 1.2 bits per element at a 0.5-bit target), the others as rANS
	// frames (CodingGGRANS). The choice is made per variable when the graph
	// is built, from its size and the target, so each variable's wire form is
	// fixed. Any target above 0 is valid.
	CoderAuto
)

// DefaultCoder is the coder of the GG quantizer when neither the builder nor
// the scope's ParamCoder sets one.
const DefaultCoder = CoderExpGolomb

// coderNames are the text forms of the coders, indexed by Coder.
var coderNames = []string{CoderExpGolomb: "expgolomb", CoderRANS: "rans", CoderAuto: "auto"}

// String returns "expgolomb", "rans" or "auto", the values ParamCoder takes.
func (c Coder) String() string {
	if c < 0 || int(c) >= len(coderNames) {
		return fmt.Sprintf("unknown(%d)", int(c))
	}
	return coderNames[c]
}

// ParseCoder returns the coder named name ("expgolomb", "rans" or "auto").
func ParseCoder(name string) (Coder, error) {
	for i, n := range coderNames {
		if n == name {
			return Coder(i), nil
		}
	}
	return 0, fmt.Errorf("coder %q: want %s", name, coderList())
}

// MarshalText implements encoding.TextMarshaler: the coder's name.
func (c Coder) MarshalText() ([]byte, error) {
	if c < 0 || int(c) >= len(coderNames) {
		return nil, fmt.Errorf("coder %d: want %s", int(c), coderList())
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
	exceptions.Panicf("optimizers.GCT: hyperparameter %s=%#v (%T), want a Coder or its name (%s)",
		ParamCoder, value, value, coderList())
	return DefaultCoder
}

// coderList returns the coders' names for error messages: "expgolomb" or
// "rans", the two coders (CoderAuto picks one of them per tensor; the text
// is kept as it was before CoderAuto, which callers' tests match).
func coderList() string {
	return fmt.Sprintf("%q, %q or %q", coderNames[CoderExpGolomb], coderNames[CoderRANS], coderNames[CoderAuto])
}
