package paper

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/ggprior/ggprior/internal/charlm"
)

// Profile is the size at which the paper command reproduces the claims: the
// length and seeds of the charlm runs, which configurations each study runs,
// and the size of the statistics.
type Profile struct {
	// Name is the profile's name on the command line (-profile).
	Name string
	// Steps is the length of every charlm run; EvalAt its evaluation steps
	// (the last step is always evaluated).
	Steps  int
	EvalAt []int
	// Seeds are the seeds of every configuration (-seeds overrides them).
	Seeds []int64
	// ValWindows, if > 0, measures the validation loss on that many evenly
	// spaced validation windows instead of all of them (charlm -val-windows).
	ValWindows int
	// Model returns the model before -arch; nil is charlm.DefaultConfig (the
	// benchmark's). Only test profiles change it: charlm's command has no
	// flag for it, so the commands of the report do not reproduce such runs.
	Model func() charlm.Config

	// InitConfigs, ACTConfigs, GCTConfigs and ArchConfigs are the
	// configurations (see Configs) of the init, act, gct and arch stages; the
	// baseline of each study is run whether listed or not.
	InitConfigs, ACTConfigs, GCTConfigs, ArchConfigs []string

	// EvidenceSample is the number of values fitted per tensor by the
	// evidence fits (distfit.Options.SampleSize); EvidenceMinSize the
	// smallest tensor fitted (biases and norm gains are smaller).
	EvidenceSample, EvidenceMinSize int
	// CaptureSteps is the number of training steps, from the trained
	// checkpoint, after each of which activations and gradients are captured.
	CaptureSteps int

	// DPConfigs are the configurations of the dp stage (data-parallel
	// training; see Configs), run at the first seed for DPSteps steps (0:
	// Steps) beside the single-process baseline of the same length.
	DPConfigs []string
	DPSteps   int

	// MNISTSteps is the length of the MNIST runs; MNISTConfigs their configurations (see MNISTConfigs).
	MNISTSteps   int
	MNISTConfigs []string

	// SpeedTokens is the number of bytes the speed stage decodes per
	// sequence (0: 100).
	SpeedTokens int

	// SecPerStep and ValSeconds are the estimates, per architecture, of a
	// training step and of a validation on every window, used for the ETA
	// until the runs measure them.
	SecPerStep, ValSeconds map[string]float64
}

// IsFull reports whether the profile runs the claims as the paper states
// them: the benchmark's full runs (charlm.FullRunSteps) with at least 3 seeds.
func (p *Profile) IsFull() bool { return p.Steps >= charlm.FullRunSteps && len(p.Seeds) >= 3 }

// Notice returns the profile's warning for the output and the report, ""
// for a full profile, e.g. "quick profile: 120 steps, 1 seed — a smoke test
// of the claims, not the claims".
func (p *Profile) Notice() string {
	if p.IsFull() {
		return ""
	}
	seeds := fmt.Sprintf("%d seeds", len(p.Seeds))
	if len(p.Seeds) == 1 {
		seeds = "1 seed"
	}
	return fmt.Sprintf("%s profile: %d steps, %s — a smoke test of the claims, not the claims", p.Name, p.Steps, seeds)
}

// model returns the profile's model before -arch.
func (p *Profile) model() charlm.Config {
	if p.Model == nil {
		return charlm.DefaultConfig()
	}
	return p.Model()
}

// studyEvalAt are the evaluation steps of the full runs (the full profile's).
var studyEvalAt = []int{250, 500, 1000, 1500, 2000}

// profiles are the profiles -profile chooses from, by name.
var profiles = map[string]*Profile{
	// quick: a smoke test of every stage in under 10 minutes on 2 cores
	// (pure-Go backend, GOEXPERIMENT=simd): one 120-step charlm run of each
	// configuration below (one seed), and 300-step MNIST runs.
	"quick": {
		Name: "quick", Steps: 120, EvalAt: []int{60, 120}, Seeds: []int64{1}, ValWindows: 128,
		InitConfigs:    []string{"normal02", "gg-beta1.4", "gg-fit"},
		ACTConfigs:     []string{"act-0.95"},
		GCTConfigs:     []string{"gct-1.5bits", "gct-2bits", "gct-adam-1bits", "topk-0.04"}, // Top-k at GCT's bits.
		ArchConfigs:    []string{"llama-normal02", "llama-gg-beta1.4"},
		DPConfigs:      []string{"w2-none", "w2-gct2"},
		EvidenceSample: 20_000, EvidenceMinSize: 1024, CaptureSteps: 2,
		MNISTSteps: 300, MNISTConfigs: []string{"he", "gg-beta1.4", "gg-beta1.4-act0.9", "gg-beta1.4-gct"}, SpeedTokens: 100,
		SecPerStep: map[string]float64{charlm.ArchGPT: 0.3, charlm.ArchLlama: 0.6},
		ValSeconds: map[string]float64{charlm.ArchGPT: 20, charlm.ArchLlama: 70},
	},
	// full: the claims as the paper states them: 2000 steps, 3 seeds, every
	// configuration of the studies (results/full).
	"full": {
		Name: "full", Steps: charlm.FullRunSteps, EvalAt: studyEvalAt, Seeds: []int64{1, 2, 3},
		InitConfigs: []string{"normal02", "he", "gg-beta1.0", "gg-beta1.4", "gg-beta2.0", "gg-fit"},
		ACTConfigs: []string{"act-0.8", "act-0.9", "act-0.95", "act-0.98", "act-0.95-lambda0", "act-0.95-fixed", "act-all",
			"act-all-0.6", "act-all-hfixed"},
		GCTConfigs: []string{"gct-1.5bits", "gct-2bits", "gct-3bits", "gct-auto-0.5bits", "gct-auto-0.75bits",
			"gct-auto-1bits", "gct-auto-1.5bits", "gct-auto-2bits", "gct-adam-0.5bits", "gct-adam-0.75bits",
			"gct-adam-1bits", "gct-adam-1.5bits", "gct-adam-2bits",
			"bf16", "int8", "topk-0.01", "topk-0.04", "sign", "powersgd-1", "powersgd-2", "powersgd-4"},
		ArchConfigs: []string{"llama-normal02", "llama-gg-beta1.4"},
		// The data-parallel runs are shorter (500 steps, one seed): they
		// measure bytes and time per step more than the final loss.
		DPConfigs: []string{"w2-none", "w2-gct2", "w2-topk0.01", "w2-powersgd4", "w4-none", "w4-gct2", "w4-topk0.01",
			"w4-powersgd4"},
		DPSteps:        500,
		EvidenceSample: 200_000, EvidenceMinSize: 1024, CaptureSteps: 5,
		MNISTSteps: 2000, MNISTConfigs: []string{"he", "gg-beta1.4", "gg-beta1.4-act0.9", "gg-beta1.4-gct"}, SpeedTokens: 200,
		SecPerStep: map[string]float64{charlm.ArchGPT: 0.3, charlm.ArchLlama: 0.6},
		ValSeconds: map[string]float64{charlm.ArchGPT: 20, charlm.ArchLlama: 70},
	},
	// tiny: a test of the pipeline in seconds (a 1-layer, width-32 model; its
	// numbers mean nothing).
	"tiny": {
		Name: "tiny", Steps: 6, EvalAt: []int{3, 6}, Seeds: []int64{1}, ValWindows: 8,
		Model: func() charlm.Config {
			cfg := charlm.DefaultConfig()
			cfg.Layers, cfg.Heads, cfg.Width, cfg.Block, cfg.MLPHidden = 1, 2, 32, 16, 64
			return cfg
		},
		InitConfigs:    []string{"normal02", "gg-beta1.4", "gg-fit"},
		ACTConfigs:     []string{"act-0.95", "act-0.95-fixed", "act-all-hfixed"},
		GCTConfigs:     []string{"gct-2bits", "sign"},
		ArchConfigs:    []string{"llama-normal02", "llama-gg-beta1.4"},
		DPConfigs:      []string{"w2-gct2"},
		EvidenceSample: 2_000, EvidenceMinSize: 256, CaptureSteps: 1,
		MNISTSteps: 10, MNISTConfigs: []string{"he", "gg-beta1.4"}, SpeedTokens: 10,
		SecPerStep: map[string]float64{charlm.ArchGPT: 0.02, charlm.ArchLlama: 0.03},
		ValSeconds: map[string]float64{charlm.ArchGPT: 2, charlm.ArchLlama: 3},
	},
}

// profileNames returns the names of Profiles, sorted.
func profileNames() []string {
	names := make([]string, 0, len(profiles))
	for name := range profiles {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// validate checks that the profile's configurations exist and that it is runnable.
func (p *Profile) validate() error {
	if p.Steps <= 0 || len(p.Seeds) == 0 {
		return fmt.Errorf("profile %s: steps (%d) must be > 0 and seeds (%v) not empty", p.Name, p.Steps, p.Seeds)
	}
	for _, list := range [][]string{p.InitConfigs, p.ACTConfigs, p.GCTConfigs, p.ArchConfigs, p.DPConfigs} {
		for _, name := range list {
			if _, ok := configs[name]; !ok {
				return fmt.Errorf("profile %s: unknown configuration %q", p.Name, name)
			}
		}
	}
	for _, name := range p.MNISTConfigs {
		if _, ok := MNISTConfigs[name]; !ok {
			return fmt.Errorf("profile %s: unknown MNIST configuration %q", p.Name, name)
		}
	}
	return nil
}

// withBaseline returns configs with baseline first (added if missing).
func withBaseline(baseline string, configs []string) []string {
	out := []string{baseline}
	for _, c := range configs {
		if c != baseline {
			out = append(out, c)
		}
	}
	return out
}

// evalAtArg formats evaluation steps for charlm's -eval-at.
func evalAtArg(steps []int) string {
	parts := make([]string, len(steps))
	for i, s := range steps {
		parts[i] = fmt.Sprint(s)
	}
	return strings.Join(parts, ",")
}

// hasPrefixAny reports whether name starts with one of the prefixes.
func hasPrefixAny(name string, prefixes ...string) bool {
	return slices.ContainsFunc(prefixes, func(p string) bool { return strings.HasPrefix(name, p) })
}
