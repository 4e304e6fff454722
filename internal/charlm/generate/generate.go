package generate

import (
	"math"
	"math/rand/v2"
	"slices"

	"github.com/pkg/errors"
)

// Options choose how bytes are picked and which path computes them.
type Options struct {
	// Temperature divides the logits before sampling; 0 (the default) is
	// greedy decoding: the most likely byte (the lowest one on a tie).
	Temperature float64
	// TopK, if > 0, samples among the TopK most likely bytes only (ties
	// broken toward the lower byte); 0 samples among all. Sampling only.
	TopK int
	// Seed seeds the sampler (math/rand/v2's PCG); the same seed, options
	// and checkpoint give the same text.
	Seed uint64
	// Sparse computes with the ACT-sparse path (the model must have ACT).
	Sparse bool
}

// Validate returns an error for the first invalid option.
func (o Options) Validate() error {
	switch {
	case !(o.Temperature >= 0) || math.IsInf(o.Temperature, 0):
		return errors.Errorf("temperature %g: want a finite value >= 0 (0: greedy)", o.Temperature)
	case o.TopK < 0:
		return errors.Errorf("top-k %d: want >= 0 (0: all bytes)", o.TopK)
	case o.TopK > 0 && o.Temperature == 0:
		return errors.Errorf("top-k %d is for sampling: give a temperature > 0 (greedy decoding takes the most likely byte)", o.TopK)
	}
	return nil
}

// Generate returns n bytes decoded after prompt (see GenerateBatch).
func (e *Engine) Generate(prompt []byte, n int, opt Options) ([]byte, error) {
	out, err := e.GenerateBatch([][]byte{prompt}, n, opt)
	if err != nil {
		return nil, err
	}
	return out[0], nil
}

// GenerateBatch decodes n bytes after each prompt, the prompts decoded
// together (a prompt longer than the block keeps its last Block bytes; see
// the package documentation for the window). Sampling draws the sequences'
// bytes in order from one generator. Bad arguments (n <= 0, no or an empty
// prompt, invalid options, Sparse on a model without ACT) are errors
// before any decoding.
func (e *Engine) GenerateBatch(prompts [][]byte, n int, opt Options) ([][]byte, error) {
	if err := e.checkRequest(prompts, n, opt); err != nil {
		return nil, err
	}
	d, err := e.NewDecoder(len(prompts), opt.Sparse)
	if err != nil {
		return nil, err
	}
	if err := d.Start(prompts); err != nil {
		return nil, err
	}
	return d.Decode(n, newSampler(opt))
}

// checkRequest checks GenerateBatch's arguments.
func (e *Engine) checkRequest(prompts [][]byte, n int, opt Options) error {
	if n <= 0 {
		return errors.Errorf("number of bytes to generate %d: want > 0", n)
	}
	if len(prompts) == 0 {
		return errors.New("no prompt: give at least one")
	}
	for i, p := range prompts {
		if len(p) == 0 {
			if len(prompts) == 1 {
				return errors.New("empty prompt: generation starts from at least one byte")
			}
			return errors.Errorf("prompt %d is empty: generation starts from at least one byte", i)
		}
	}
	if err := opt.Validate(); err != nil {
		return err
	}
	if opt.Sparse && !e.HasACT() {
		return errors.Errorf("checkpoint %s has no ACT state (trained without -act): the sparse path skips the zeros of ACT's sites, and this model has none", e.Checkpoint)
	}
	return nil
}

// Decode picks n bytes per sequence after Start: it picks each sequence's
// byte from its logits with smp, appends it, and so on (the last byte picked
// is not appended).
func (d *Decoder) Decode(n int, smp *Sampler) ([][]byte, error) {
	out := make([][]byte, len(d.seqs))
	next := make([]byte, len(d.seqs))
	for step := range n {
		for i := range d.seqs {
			b, err := smp.Pick(d.Logits(i))
			if err != nil {
				return nil, errors.WithMessagef(err, "sequence %d, byte %d", i, step)
			}
			next[i] = b
			out[i] = append(out[i], b)
		}
		if step < n-1 {
			if err := d.Append(next); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// Sampler picks a byte from next-byte logits: greedy or sampled (see Options).
type Sampler struct {
	temperature float64
	topK        int
	rng         *rand.Rand
	order       []int
	probs       []float64
}

// samplerStream is the PCG stream of the samplers ("charlm-g").
const samplerStream = 0x636861726c6d2d67

// newSampler returns the sampler of opt (which must be valid).
func newSampler(opt Options) *Sampler {
	return &Sampler{temperature: opt.Temperature, topK: opt.TopK, rng: rand.New(rand.NewPCG(opt.Seed, samplerStream))}
}

// Pick returns the byte picked from logits. Non-finite logits are an error.
func (s *Sampler) Pick(logits []float32) (byte, error) {
	best := 0
	for i, v := range logits {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return 0, errors.Errorf("logit of byte %d is %g", i, v)
		}
		if v > logits[best] {
			best = i
		}
	}
	if s.temperature == 0 {
		return byte(best), nil
	}
	order := grow(&s.order, len(logits))
	for i := range order {
		order[i] = i
	}
	if s.topK > 0 && s.topK < len(logits) {
		slices.SortStableFunc(order, func(a, b int) int {
			switch {
			case logits[a] > logits[b]:
				return -1
			case logits[a] < logits[b]:
				return 1
			}
			return 0
		})
		order = order[:s.topK]
	}
	probs := grow(&s.probs, len(order))
	var sum float64
	top := float64(logits[best])
	for i, tok := range order {
		probs[i] = math.Exp((float64(logits[tok]) - top) / s.temperature)
		sum += probs[i]
	}
	u := s.rng.Float64() * sum
	for i, p := range probs {
		if u < p {
			return byte(order[i]), nil
		}
		u -= p
	}
	return byte(order[len(order)-1]), nil
}
