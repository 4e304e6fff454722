package paper

import (
	"strconv"

	"github.com/ggprior/ggprior/internal/charlm"
)

// RunConfig is a configuration of the charlm studies: the charlm arguments
// that make its runs differ from the benchmark's default run (the length,
// seed and evaluations come from the Profile).
type RunConfig struct {
	// Args are the configuration's charlm arguments.
	Args []string
	// Label describes the configuration in tables, e.g. "GG init, β=1.4".
	Label string
	// Arch is the configuration's architecture (charlm's -arch).
	Arch string
	// FitBaseline makes -beta the GG shapes fitted per layer kind to the
	// final checkpoint of the baseline's seed-1 run (charlm's "-beta
	// fit:DIR"): "a good model to train a good model".
	FitBaseline bool
	// KeepWeights keeps the checkpoints of the configuration's seed-1 run:
	// a later stage analyzes its weights (evidence, arch, size).
	KeepWeights bool
}

// baseline names of the charlm studies: the benchmark's normal(0, 0.02)
// initialization, for the gpt model and the llama model.
const (
	baseline      = "normal02"
	llamaBaseline = "llama-normal02"
)

// configs are the configurations the stages run, by name (the name of their
// results files, "<name>-seed<S>-steps<N>.json", as every study
// names the init study's).
var configs = map[string]RunConfig{
	// The init study (and the baseline of every gpt study).
	baseline:     {Args: []string{"-init", "normal02"}, Label: "normal(0, 0.02)", KeepWeights: true},
	"he":         {Args: []string{"-init", "he"}, Label: "He"},
	"gg-beta1.0": {Args: []string{"-init", "gg", "-beta", "1.0"}, Label: "GG, β=1.0", KeepWeights: true},
	"gg-beta1.4": {Args: []string{"-init", "gg", "-beta", "1.4"}, Label: "GG, β=1.4", KeepWeights: true},
	"gg-beta2.0": {Args: []string{"-init", "gg", "-beta", "2.0"}, Label: "GG, β=2.0", KeepWeights: true},
	"gg-fit":     {Args: []string{"-init", "gg"}, Label: "GG, β fitted to the trained baseline", FitBaseline: true, KeepWeights: true},

	// The ACT study: ACT at the MLP hidden activations, with the paper's
	// progressive ramp (over 5% to 60% of the steps, given explicitly:
	// charlm's default at the MLP hidden is now a fixed threshold).
	"act-0.8":          {Args: actArgs("0.8", rampArgs...), Label: "ACT 0.8", KeepWeights: true},
	"act-0.9":          {Args: actArgs("0.9", rampArgs...), Label: "ACT 0.9", KeepWeights: true},
	"act-0.95":         {Args: actArgs("0.95", rampArgs...), Label: "ACT 0.95", KeepWeights: true},
	"act-0.98":         {Args: actArgs("0.98", rampArgs...), Label: "ACT 0.98", KeepWeights: true},
	"act-0.95-lambda0": {Args: actArgs("0.95", append([]string{"-act-lambda", "0"}, rampArgs...)...), Label: "ACT 0.95, no rate term (λ=0)", KeepWeights: true},
	// charlm's default at the MLP hidden: the full target from step 0.
	"act-0.95-fixed": {Args: actArgs("0.95", "-act-start", "0", "-act-end", "0"),
		Label: "ACT 0.95, fixed threshold (full target from step 0)", KeepWeights: true},
	// ACT at every activation site: 70% at the attention and MLP inputs,
	// 95% at the MLP hidden (about 78% over the sites), every site ramping.
	"act-all": {Args: append([]string{"-act", "-act-sparsity", "0.7," + charlm.SiteMLPHidden + "=0.95"}, rampArgs...),
		Label: "ACT at every site (0.7; MLP hidden 0.95)", KeepWeights: true},
	// The least sparsity at the inputs that keeps the mean over the sites
	// above 70% (0.6, 0.6, 0.95: about 72%): act-all's cost at a lower rate.
	"act-all-0.6": {Args: append([]string{"-act", "-act-sparsity", "0.6," + charlm.SiteMLPHidden + "=0.95"}, rampArgs...),
		Label: "ACT at every site (0.6; MLP hidden 0.95)", KeepWeights: true},
	// charlm's default with ACT at every site (the recipe): act-all's
	// targets, the inputs ramping, the MLP hidden threshold fixed from the
	// first step (act-0.95-fixed's, which trains better there).
	"act-all-hfixed": {Args: []string{"-act", "-act-sparsity", "0.7," + charlm.SiteMLPHidden + "=0.95"},
		Label: "ACT at every site (0.7; MLP hidden 0.95, fixed threshold): charlm's default", KeepWeights: true},

	// The GCT study: GCT's quantizer, and the baseline compressors in its place.
	// GCT's first quantizer: Exp-Golomb codes, the gradient's geometry.
	"gct-1.5bits": {Args: gctExpGolombArgs("1.5"), Label: "GCT 1.5 bits (Exp-Golomb)"},
	"gct-2bits":   {Args: gctExpGolombArgs("2"), Label: "GCT 2 bits (Exp-Golomb)"},
	"gct-3bits":   {Args: gctExpGolombArgs("3"), Label: "GCT 3 bits (Exp-Golomb)"},
	"bf16":        {Args: []string{"-compress", "bf16"}, Label: "bf16"},
	"int8":        {Args: []string{"-compress", "int8"}, Label: "int8"},
	"topk-0.01":   {Args: []string{"-compress", "topk:0.01"}, Label: "top-k 1%"},
	// Top-k 4% codes about 1.9 bits per element (32-bit value and 20-bit
	// index per kept element), GCT's range: the equal-bits comparison.
	"topk-0.04":  {Args: []string{"-compress", "topk:0.04"}, Label: "top-k 4%"},
	"sign":       {Args: []string{"-compress", "sign"}, Label: "sign (1-bit)"},
	"powersgd-1": {Args: []string{"-compress", "powersgd:1"}, Label: "PowerSGD rank 1"},
	"powersgd-2": {Args: []string{"-compress", "powersgd:2"}, Label: "PowerSGD rank 2"},
	"powersgd-4": {Args: []string{"-compress", "powersgd:4"}, Label: "PowerSGD rank 4"},
	// GCT with the GG-model rANS coder (charlm's -gct-coder auto: rANS
	// frames for the large tensors, Exp-Golomb codes for the small ones, the
	// rate steered to the target), down to half a bit per element.
	"gct-auto-0.5bits":  {Args: gctAutoArgs("0.5"), Label: "GCT 0.5 bits (rANS, gradient geometry)"},
	"gct-auto-0.75bits": {Args: gctAutoArgs("0.75"), Label: "GCT 0.75 bits (rANS, gradient geometry)"},
	"gct-auto-1bits":    {Args: gctAutoArgs("1"), Label: "GCT 1 bit (rANS, gradient geometry)"},
	"gct-auto-1.5bits":  {Args: gctAutoArgs("1.5"), Label: "GCT 1.5 bits (rANS, gradient geometry)"},
	"gct-auto-2bits":    {Args: gctAutoArgs("2"), Label: "GCT 2 bits (rANS, gradient geometry)"},
	// GCT as charlm's -compress gct -gct-bits B does it: the auto coder, in
	// AdamW's geometry, AdamW's second moment corrected for the noise.
	"gct-adam-0.5bits":  {Args: gctAdamArgs("0.5"), Label: "GCT 0.5 bits"},
	"gct-adam-0.75bits": {Args: gctAdamArgs("0.75"), Label: "GCT 0.75 bits"},
	"gct-adam-1bits":    {Args: gctAdamArgs("1"), Label: "GCT 1 bit"},
	"gct-adam-1.5bits":  {Args: gctAdamArgs("1.5"), Label: "GCT 1.5 bits"},
	"gct-adam-2bits":    {Args: gctAdamArgs("2"), Label: "GCT 2 bits"},
	// The quantizer's options at 1 bit, in AdamW's geometry without the
	// second moment's correction (seed 1 only; no profile runs them): alone,
	// with one step for all tensors, with the fitted reconstruction, both.
	"gct-ablation-novc-1bits":  {Args: gctAblationArgs(), Label: "GCT 1 bit, no moment correction"},
	"gct-ablation-rd-1bits":    {Args: gctAblationArgs("-gct-allocation", "rd"), Label: "GCT 1 bit, no moment correction, one RD step"},
	"gct-ablation-fit-1bits":   {Args: gctAblationArgs("-gct-reconstruction", "fitted"), Label: "GCT 1 bit, no moment correction, fitted reconstruction"},
	"gct-ablation-rdfit-1bits": {Args: gctAblationArgs("-gct-allocation", "rd", "-gct-reconstruction", "fitted"), Label: "GCT 1 bit, no moment correction, one RD step, fitted reconstruction"},

	// The GCT study's data-parallel runs of charlm's default GCT at 1 bit,
	// full length (seed 1; no profile runs them), and the baseline at other
	// peak learning rates (the second moment's inflation by the quantization
	// noise shrinks AdamW's steps as a lower learning rate would).
	"w2-gct-adam-1bits": {Args: dpArgs(2, "gct", "-gct-bits", "1"), Label: "2 workers, GCT 1 bit"},
	"w4-gct-adam-1bits": {Args: dpArgs(4, "gct", "-gct-bits", "1"), Label: "4 workers, GCT 1 bit"},
	"normal02-lr0.7":    {Args: []string{"-set", "learning_rate=0.0007;min_learning_rate=0.00007"}, Label: "uncompressed, learning rate x0.7"},
	"normal02-lr1.3":    {Args: []string{"-set", "learning_rate=0.0013;min_learning_rate=0.00013"}, Label: "uncompressed, learning rate x1.3"},

	// The data-parallel study: W in-process workers, each on its shard of
	// every batch, exchanging their gradients through a compressor (the
	// baseline is the single-process run of the same length).
	"w2-none":      {Args: dpArgs(2, "none"), Label: "2 workers, fp32"},
	"w2-gct2":      {Args: dpArgs(2, "gct:2", gctLegacyArgs...), Label: "2 workers, GCT 2 bits"},
	"w2-topk0.01":  {Args: dpArgs(2, "topk:0.01"), Label: "2 workers, top-k 1%"},
	"w2-powersgd4": {Args: dpArgs(2, "powersgd:4"), Label: "2 workers, PowerSGD rank 4"},
	"w4-none":      {Args: dpArgs(4, "none"), Label: "4 workers, fp32"},
	"w4-gct2":      {Args: dpArgs(4, "gct:2", gctLegacyArgs...), Label: "4 workers, GCT 2 bits"},
	"w4-topk0.01":  {Args: dpArgs(4, "topk:0.01"), Label: "4 workers, top-k 1%"},
	"w4-powersgd4": {Args: dpArgs(4, "powersgd:4"), Label: "4 workers, PowerSGD rank 4"},

	// The arch study: the llama model.
	llamaBaseline:      {Args: []string{"-arch", "llama", "-init", "normal02"}, Label: "llama, normal(0, 0.02)", Arch: charlm.ArchLlama, KeepWeights: true},
	"llama-gg-beta1.4": {Args: []string{"-arch", "llama", "-init", "gg", "-beta", "1.4"}, Label: "llama, GG β=1.4", Arch: charlm.ArchLlama},
}

// rampArgs give every ACT site the paper's progressive ramp, over 5% to 60%
// of the run's steps (charlm's default ramp, but at the MLP hidden).
var rampArgs = []string{"-act-start", "5%", "-act-end", "60%"}

// actArgs returns the arguments of ACT at the MLP hidden activations with
// the given final target sparsity, then more.
func actArgs(sparsity string, more ...string) []string {
	return append([]string{"-act", "-act-sites", charlm.SiteMLPHidden, "-act-sparsity", sparsity}, more...)
}

// gctLegacyArgs are the flags of GCT's first quantizer, charlm's default
// before the GCT study of the rANS coder and Adam's geometry: Exp-Golomb
// codes, in the gradient's geometry.
var gctLegacyArgs = []string{"-gct-coder", "expgolomb", "-gct-geometry", "gradient", "-gct-moment-correction", "false"}

// gctExpGolombArgs returns the arguments of GCT's first quantizer at the
// given target bits per element.
func gctExpGolombArgs(bits string) []string {
	return append([]string{"-compress", "gct", "-gct-bits", bits}, gctLegacyArgs...)
}

// gctAutoArgs returns the arguments of GCT with the rANS coder (-gct-coder
// auto) in the gradient's geometry at the given target bits per element.
func gctAutoArgs(bits string) []string {
	return []string{"-compress", "gct", "-gct-coder", "auto", "-gct-bits", bits, "-gct-geometry", "gradient", "-gct-moment-correction", "false"}
}

// gctAdamArgs returns the arguments of GCT with charlm's defaults (the auto
// coder, AdamW's geometry, the second moment's correction) at the given
// target bits per element: the one-line -compress gct -gct-bits B.
func gctAdamArgs(bits string) []string {
	return []string{"-compress", "gct", "-gct-bits", bits}
}

// gctAblationArgs returns the arguments of GCT at 1 bit without the second
// moment's correction, then more.
func gctAblationArgs(more ...string) []string {
	return append(append(gctAdamArgs("1"), "-gct-moment-correction", "false"), more...)
}

// dpArgs returns the arguments of data-parallel training with the given
// number of workers and compressor (charlm's -compress), then more.
func dpArgs(workers int, compress string, more ...string) []string {
	return append([]string{"-workers", strconv.Itoa(workers), "-compress", compress}, more...)
}

// arch returns the configuration's architecture.
func (c RunConfig) arch() string {
	if c.Arch == "" {
		return charlm.ArchGPT
	}
	return c.Arch
}
