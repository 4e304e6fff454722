package charlm

import (
	"strings"
	"testing"

	"github.com/ggprior/ggprior/layers"
	"github.com/ggprior/ggprior/optimizers"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/stretchr/testify/require"
)

func TestParseSteps(t *testing.T) {
	steps, err := parseSteps("250, 500,1000,")
	require.NoError(t, err)
	require.Equal(t, []int{250, 500, 1000}, steps)
	for _, bad := range []string{"0", "-5", "abc", "1.5"} {
		_, err := parseSteps(bad)
		require.Error(t, err, bad)
	}
}

// TestFlagsRunConfig: a charlm command line becomes the run's model, training
// configuration and hyperparameter settings; Args gives it back.
func TestFlagsRunConfig(t *testing.T) {
	args := []string{"-steps", "300", "-seed", "2", "-arch", "llama", "-init", "gg", "-beta", "1.4",
		"-eval-at", "100,300", "-val-windows", "64", "-compress", "gct", "-gct-bits", "3",
		"-act", "-act-sites", "mlp_hidden", "-act-sparsity", "0.95", "-act-start", "0", "-act-end", "0",
		"-set", "learning_rate=2e-3"}
	f, err := ParseFlags(args)
	require.NoError(t, err)
	cfg, tc, settings, err := f.RunConfig(DefaultConfig())
	require.NoError(t, err)
	require.Equal(t, ArchLlama, cfg.Arch)
	require.Equal(t, 300, tc.Steps)
	require.Equal(t, int64(2), tc.Seed)
	require.Equal(t, InitNameGG, tc.Init)
	require.Equal(t, "1.4", tc.Beta)
	require.Equal(t, []int{100, 300}, tc.EvalAt)
	require.Equal(t, 64, tc.ValWindows)
	require.Equal(t, "gct", tc.Compress)
	require.Equal(t, []string{SiteMLPHidden}, tc.ACTSites)
	require.Equal(t, []string{optimizers.ParamBits + "=3", layers.ParamSparsity + "=0.95",
		layers.ParamStart + "=0", layers.ParamEnd + "=0", "learning_rate=2e-3"}, settings)
	require.NoError(t, tc.Validate())

	canonical := f.Args()
	require.Contains(t, canonical, "-beta=1.4")
	require.Contains(t, canonical, "-act=true")
	require.NotContains(t, canonical, "-batch=12", "defaults are left out")
	again, err := ParseFlags(canonical)
	require.NoError(t, err)
	cfg2, tc2, settings2, err := again.RunConfig(DefaultConfig())
	require.NoError(t, err)
	require.Equal(t, cfg, cfg2)
	require.Equal(t, tc, tc2)
	require.ElementsMatch(t, settings, settings2)

	// The defaults: the benchmark's full run.
	f, err = ParseFlags(nil)
	require.NoError(t, err)
	require.Empty(t, f.Args())
	_, tc, settings, err = f.RunConfig(DefaultConfig())
	require.NoError(t, err)
	want := DefaultTrainConfig()
	want.Compress, want.Workers = CompressNone, 1 // As the command has always recorded them.
	require.Equal(t, want, tc)
	require.Empty(t, settings)
}

// TestFlagsACTModes: -act-schedule and -act-threshold take the names of
// layers' Schedule and ThresholdSource, stand for the act_schedule and
// act_threshold hyperparameters by those names, and reject other names.
func TestFlagsACTModes(t *testing.T) {
	f, err := ParseFlags([]string{"-act", "-act-schedule", "staged", "-act-threshold", "gg"})
	require.NoError(t, err)
	require.Equal(t, layers.ScheduleStaged, f.ACTSchedule)
	require.Equal(t, layers.ThresholdGG, f.ACTThreshold)
	_, _, settings, err := f.RunConfig(DefaultConfig())
	require.NoError(t, err)
	require.Subset(t, settings, []string{layers.ParamSchedule + "=staged", layers.ParamThreshold + "=gg"})
	require.Subset(t, f.Args(), []string{"-act-schedule=staged", "-act-threshold=gg"})

	_, err = ParseFlags([]string{"-act", "-act-schedule", "exp"})
	require.ErrorContains(t, err, `schedule "exp": want "cosine", "linear" or "staged"`)
	_, err = ParseFlags([]string{"-act", "-act-threshold", "median"})
	require.ErrorContains(t, err, `threshold source "median": want "batch" or "gg"`)
}

func TestFlagsErrors(t *testing.T) {
	_, err := ParseFlags([]string{"-no-such-flag"})
	require.ErrorContains(t, err, "not defined")
	_, err = ParseFlags([]string{"-steps", "3", "extra"})
	require.ErrorContains(t, err, "unexpected arguments")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-eval-at", "0"}, "not a positive step"},
		{[]string{"-workers", "0"}, "must be >= 1"},
		{[]string{"-gct-bits", "3"}, "-gct-bits is only used with -compress gct"},
		{[]string{"-compress", "gct", "-gct-coder", "expgolomb", "-gct-bits", "1"}, "-gct-bits 1: bits per element must be > 1 with Exp-Golomb codes (-gct-coder rans goes below)"},
		{[]string{"-compress", "gct", "-gct-coder", "rans", "-gct-bits", "0"}, "-gct-bits 0: bits per element must be finite and > 0"},
		{[]string{"-compress", "gct-rans", "-gct-bits", "-1"}, "-gct-bits -1: bits per element must be finite and > 0"},
		{[]string{"-compress", "gct-rans:0.5", "-gct-bits", "0.3"}, `-compress "gct-rans:0.5" already gives the bits: drop -gct-bits or use -compress gct-rans`},
		{[]string{"-gct-coder", "rans"}, `-gct-coder is only used with -compress gct (got -compress "none")`},
		{[]string{"-compress", "int8", "-gct-coder", "rans"}, "-gct-coder is only used with -compress gct"},
		{[]string{"-compress", "gct-rans", "-gct-coder", "rans"}, `-compress "gct-rans" already gives the coder`},
		{[]string{"-act-lambda", "0"}, "-act-lambda is only used with -act"},
		{[]string{"-act", "-act-start", "10", "-act-end", "5"}, "ends (step 5) before it starts (step 10)"},
		{[]string{"-act", "-act-start", "mlp_hidden=1500"}, "ramp at mlp_hidden ends (step 1200) before it starts (step 1500)"},
		{[]string{"-act", "-act-sites", "mlp_hidden", "-act-end", "attn_in=0"}, `site "attn_in", which is not among the -act-sites`},
		{[]string{"-act", "-act-start", "1.5"}, `"1.5" is not a step number >= 0`},
		{[]string{"-act", "-act-end", "mlp_out=3"}, `unknown activation site "mlp_out"`},
		// A GG shape outside ggx's range is refused with the flags, in one line.
		{[]string{"-init", "gg", "-beta", "0.001"}, `-beta "0.001": "0.001" is not a shape in [0.05, 50]`},
		{[]string{"-init", "gg", "-beta", "1.4,head=60"}, "is not a shape in [0.05, 50]"},
		{[]string{"-beta", "1.4"}, "-beta \"1.4\" is only used with -init=gg"},
		// An evaluation asked for after the last step was dropped silently.
		{[]string{"-eval-at", "10", "-steps", "5"}, `-eval-at "10": step 10 is after the run's last step (-steps 5)`},
	} {
		f, err := ParseFlags(c.args)
		require.NoError(t, err)
		_, _, _, err = f.RunConfig(DefaultConfig())
		require.ErrorContains(t, err, c.want, "%q", c.args)
	}
}

// TestFlagsPerSiteRamp: -act-start and -act-end take per-site steps, which
// become TrainConfig.ACTRamp (the other end from the run's ramp), survive
// Args, and reach the ACT layers of their sites only.
func TestFlagsPerSiteRamp(t *testing.T) {
	f, err := ParseFlags([]string{"-steps", "400", "-act", "-act-sparsity", "0.6,mlp_hidden=0.95",
		"-act-start", "mlp_hidden=0", "-act-end", "300,mlp_hidden=0,attn_in=250"})
	require.NoError(t, err)
	_, tc, settings, err := f.RunConfig(DefaultConfig())
	require.NoError(t, err)
	// The run's ramp: the default start (5% of 400 steps), end 300.
	require.Contains(t, settings, layers.ParamEnd+"=300")
	require.NotContains(t, settings, layers.ParamStart+"=0")
	require.Equal(t, map[string][2]int{SiteMLPHidden: {0, 0}, SiteAttnIn: {20, 250}}, tc.ACTRamp)
	require.NoError(t, tc.Validate())

	again, err := ParseFlags(f.Args())
	require.NoError(t, err)
	_, tc2, _, err := again.RunConfig(DefaultConfig())
	require.NoError(t, err)
	require.Equal(t, tc, tc2)

	// The recipe: with no ramp given for it, the MLP hidden site's threshold
	// is fixed from the first step; any ramp given for it (bare or its own) wins.
	for _, c := range []struct {
		args []string
		want map[string][2]int
	}{
		{[]string{"-act", "-act-sparsity", "0.7,mlp_hidden=0.95"}, map[string][2]int{SiteMLPHidden: {0, 0}}},
		{[]string{"-act", "-act-sites", "mlp_hidden", "-act-end", "attn_in=5"}, nil}, // An error, below.
		{[]string{"-act", "-act-end", "attn_in=50"}, map[string][2]int{SiteMLPHidden: {0, 0}, SiteAttnIn: {20, 50}}},
		{[]string{"-act", "-act-sites", "attn_in,mlp_in"}, nil},
		{[]string{"-act", "-act-start", "5%", "-act-end", "60%"}, nil},
		{[]string{"-act", "-act-end", "300"}, nil},
		{[]string{"-act", "-act-start", "mlp_hidden=10"}, map[string][2]int{SiteMLPHidden: {10, 240}}},
	} {
		f, err := ParseFlags(append([]string{"-steps", "400"}, c.args...))
		require.NoError(t, err)
		_, tc, _, err := f.RunConfig(DefaultConfig())
		if c.args[len(c.args)-1] == "attn_in=5" {
			require.ErrorContains(t, err, "not among the -act-sites")
			continue
		}
		require.NoError(t, err, c.args)
		require.Equal(t, c.want, tc.ACTRamp, c.args)
	}

	// Percentages of the run's steps.
	f, err = ParseFlags([]string{"-steps", "400", "-act", "-act-start", "5%,mlp_hidden=0", "-act-end", "60%,mlp_hidden=12.5%"})
	require.NoError(t, err)
	_, tc3, settings, err := f.RunConfig(DefaultConfig())
	require.NoError(t, err)
	require.Subset(t, settings, []string{layers.ParamStart + "=20", layers.ParamEnd + "=240"})
	require.Equal(t, map[string][2]int{SiteMLPHidden: {0, 50}}, tc3.ACTRamp)
	for _, spec := range []string{"101%", "x%", "-5%"} {
		f, err = ParseFlags([]string{"-act", "-act-start", spec})
		require.NoError(t, err)
		_, _, _, err = f.RunConfig(DefaultConfig())
		require.ErrorContains(t, err, "is not a percentage in [0%, 100%] of the run's steps", spec)
	}

	bad := tc
	bad.ACTRamp = map[string][2]int{SiteMLPHidden: {10, 5}}
	require.ErrorContains(t, bad.Validate(), "want 0 <= start <= end")
	bad.ACTSites = []string{siteMLPIn}
	require.ErrorContains(t, bad.Validate(), "not among the ACT sites")
}

// TestFlagsGCTCoder: -gct-coder (with -compress gct) stands for the gct_coder
// hyperparameter and lets -gct-bits go below 1 bit with the rANS coder;
// -compress gct-rans picks that coder by itself; other names are refused.
func TestFlagsGCTCoder(t *testing.T) {
	f, err := ParseFlags([]string{"-compress", "gct", "-gct-coder", "rans", "-gct-bits", "0.5"})
	require.NoError(t, err)
	require.Equal(t, optimizers.CoderRANS, f.GCTCoder)
	_, tc, settings, err := f.RunConfig(DefaultConfig())
	require.NoError(t, err)
	require.Equal(t, []string{optimizers.ParamCoder + "=rans", optimizers.ParamBits + "=0.5"}, settings)
	require.Subset(t, f.Args(), []string{"-gct-coder=rans", "-gct-bits=0.5"})
	again, err := ParseFlags(f.Args())
	require.NoError(t, err)
	_, tc2, settings2, err := again.RunConfig(DefaultConfig())
	require.NoError(t, err)
	require.Equal(t, tc, tc2)
	require.ElementsMatch(t, settings, settings2)

	f, err = ParseFlags([]string{"-compress", "gct-rans", "-gct-bits", "0.25"})
	require.NoError(t, err)
	_, tc, settings, err = f.RunConfig(DefaultConfig())
	require.NoError(t, err)
	require.Equal(t, "gct-rans", tc.Compress)
	require.Equal(t, []string{optimizers.ParamBits + "=0.25"}, settings)

	f, err = ParseFlags([]string{"-compress", "gct"}) // The default coder: nothing set.
	require.NoError(t, err)
	_, _, settings, err = f.RunConfig(DefaultConfig())
	require.NoError(t, err)
	require.Empty(t, settings)
	require.NotContains(t, f.Args(), "-gct-coder=expgolomb")

	_, err = ParseFlags([]string{"-compress", "gct", "-gct-coder", "huffman"})
	require.ErrorContains(t, err, `coder "huffman": want "expgolomb", "rans" or "auto"`)
}

// TestFlagsGCTGeometryAllocation: -gct-geometry and -gct-allocation stand
// for gct_geometry and gct_allocation, survive Args, and are refused with
// bad names, without -compress gct, and (rd) with Exp-Golomb codes.
func TestFlagsGCTGeometryAllocation(t *testing.T) {
	f, err := ParseFlags([]string{"-compress", "gct", "-gct-coder", "rans", "-gct-bits", "1", "-gct-geometry", "gradient",
		"-gct-allocation", "rd", "-gct-reconstruction", "fitted"})
	require.NoError(t, err)
	_, _, settings, err := f.RunConfig(DefaultConfig())
	require.NoError(t, err)
	require.ElementsMatch(t, []string{optimizers.ParamCoder + "=rans", optimizers.ParamBits + "=1",
		optimizers.ParamGeometry + "=gradient", optimizers.ParamAllocation + "=rd", optimizers.ParamReconstruction + "=fitted"}, settings)
	again, err := ParseFlags(f.Args())
	require.NoError(t, err)
	_, _, settings2, err := again.RunConfig(DefaultConfig())
	require.NoError(t, err)
	require.ElementsMatch(t, settings, settings2)

	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-compress", "gct", "-gct-geometry", "adamw"}, `-gct-geometry: geometry "adamw": want "gradient" or "adam"`},
		{[]string{"-compress", "gct", "-gct-coder", "auto", "-gct-allocation", "greedy"}, `-gct-allocation: allocation "greedy": want "equal" or "rd"`},
		{[]string{"-compress", "gct", "-gct-coder", "expgolomb", "-gct-allocation", "rd"}, "-gct-allocation rd needs the rANS coder"},
		{[]string{"-compress", "topk:0.01", "-gct-geometry", "gradient"}, "only used with -compress gct"},
		{[]string{"-compress", "gct", "-gct-coder", "expgolomb", "-gct-reconstruction", "fitted"}, "-gct-reconstruction fitted needs the rANS coder"},
		{[]string{"-compress", "gct", "-gct-reconstruction", "centroid"}, `reconstruction "centroid": want "center" or "fitted"`},
	} {
		f, err := ParseFlags(c.args)
		if err == nil {
			_, _, _, err = f.RunConfig(DefaultConfig())
		}
		require.ErrorContains(t, err, c.want, "%v", c.args)
	}
	// Set by -set, the names are checked too.
	for _, setting := range []string{"gct_geometry=adamw", "gct_allocation=rdo", "gct_reconstruction=mid"} {
		store := model.NewStore()
		setGCTDefaults(store, compression{enabled: true, gg: true, ggBits: 2})
		_, err = parseSettings(store, setting)
		require.NoError(t, err)
		require.ErrorContains(t, validateHyperparameters(store), "want", setting)
	}
}

// TestGCTCoderRuns: a run with -compress gct -gct-coder rans -gct-bits 0.5
// trains the tiny gpt with GCT's GG quantizer and the rANS coder: its large
// kernels' gradients cost at most the target plus the frame's fixed ~600 bits
// (the first steps' size), below Exp-Golomb's 1-bit floor, and at least half
// the target (the total rate control lowers their share below the target to
// pay for the small tensors' frames, whose fixed parts the tiny model's
// total can't absorb).
func TestGCTCoderRuns(t *testing.T) {
	data := tinyCorpusFile(t, pangram, 20)
	f, err := ParseFlags([]string{"-compress", "gct", "-gct-coder", "rans", "-gct-bits", "0.5"})
	require.NoError(t, err)
	_, tc, settings, err := f.RunConfig(DefaultConfig())
	require.NoError(t, err)
	exp := methodExperiment(t, data, 10, "", func(c *TrainConfig) { c.Compress = tc.Compress }, strings.Join(settings, ";"))
	r, err := exp.Run()
	require.NoError(t, err)
	require.Equal(t, CompressSettings{Name: "gct-rans:0.5bits+adam+vcorr", Bits: 0.5, ErrorFeedback: true}, r.Compress) // charlm's defaults.
	require.Equal(t, "rans", r.Config.Hyperparameters[optimizers.ParamCoder])
	for _, kernel := range []string{"/block_000/mlp/in/weights", "/block_000/mlp/out/weights", "/block_000/attn/out/weights"} {
		size := exp.Store.GetVariable(kernel).Shape().Size()
		bits := r.GradBitsByVariable[kernel]
		require.Greater(t, bits, 0.25, kernel)
		require.Less(t, bits, 0.55+600/float64(size), kernel)
		require.Less(t, bits, 1.0, kernel)
		t.Logf("%s (%d elements): %.3f bits per element", kernel, size, r.GradBitsByVariable[kernel])
	}
	require.Less(t, r.LossCurve[9][1], r.LossCurve[0][1], "training moves the weights")
	t.Logf("bits per element %.3f (all variables), zero fraction %.3f, beta %.3f", *r.GradBitsPerElement, *r.GradZeroFraction, *r.GradBeta)
}
