package generate

import (
	"math"

	"github.com/ggprior/ggprior/internal/charlm"
	"github.com/ggprior/ggprior/layers/sparse"
	"github.com/pkg/errors"
)

// Decoder runs the model over a batch of sequences, one byte per sequence per
// step, keeping each sequence's keys and values (the KV cache) for the bytes
// of its window (see the package documentation). It computes with one path,
// dense or ACT-sparse, for its whole life. It is not safe for concurrent use.
type Decoder struct {
	e      *Engine
	sparse bool
	seqs   []sequence
	// logits holds each sequence's next-byte logits, [batch, vocab].
	logits []float32

	// Statistics since the last ResetStats: the zeros and values of each
	// block's ACT sites, and the multiply-adds of all products.
	zeros, values [][numSites]int64
	macs          int64

	// Scratch buffers, grown as needed: the residual stream x, a normalized
	// activation h, the fused QKV projections, the attention output y, a
	// sub-layer's output o, the MLP input projection u and hidden activation a,
	// the final rows and their logits, the attention scores and weights.
	x, h, qkv, y, o, u, a, xf, lf []float32
	scores, probs                 []float32
	idx                           []int32
	items                         []item
}

// sequence is one sequence's window and KV cache.
type sequence struct {
	window []byte
	// k and v are the keys and values of each block's heads at the
	// window's positions, laid out for the products of attention: k[l][h]
	// is [headWidth, block] (position p of feature i at i*block+p), v[l][h]
	// is [block, headWidth].
	k, v [][][]float32
}

// item is one byte the next pass encodes: sequence seq's byte tok at position
// pos; last marks the byte whose logits the pass computes.
type item struct {
	seq, pos int
	tok      byte
	last     bool
}

// NewDecoder returns a decoder for batch sequences. With sparse, the products
// that consume an ACT site's output skip its zeros (on a model without ACT
// the sparse path is the dense one).
func (e *Engine) NewDecoder(batch int, sparse bool) (*Decoder, error) {
	if batch <= 0 {
		return nil, errors.Errorf("decoder batch %d: want at least 1 sequence", batch)
	}
	cfg := e.Config
	d := &Decoder{e: e, sparse: sparse, seqs: make([]sequence, batch), logits: make([]float32, batch*cfg.Vocab)}
	for i := range d.seqs {
		s := &d.seqs[i]
		s.window = make([]byte, 0, cfg.Block)
		s.k, s.v = make([][][]float32, cfg.Layers), make([][][]float32, cfg.Layers)
		for l := range cfg.Layers {
			s.k[l], s.v[l] = make([][]float32, cfg.Heads), make([][]float32, cfg.Heads)
			for h := range cfg.Heads {
				s.k[l][h], s.v[l][h] = make([]float32, cfg.HeadWidth()*cfg.Block), make([]float32, cfg.Block*cfg.HeadWidth())
			}
		}
	}
	d.zeros, d.values = make([][numSites]int64, cfg.Layers), make([][numSites]int64, cfg.Layers)
	return d, nil
}

// Batch returns the number of sequences.
func (d *Decoder) Batch() int { return len(d.seqs) }

// Sparse reports whether the decoder computes with the ACT-sparse path.
func (d *Decoder) Sparse() bool { return d.sparse }

// Start encodes a prompt per sequence (each non-empty; one longer than the
// block is cut to its last Block bytes), replacing whatever the sequences
// held, and computes the logits of each prompt's next byte.
func (d *Decoder) Start(prompts [][]byte) error {
	if len(prompts) != len(d.seqs) {
		return errors.Errorf("%d prompts for a decoder of %d sequences", len(prompts), len(d.seqs))
	}
	for i, p := range prompts {
		if len(p) == 0 {
			return errors.Errorf("prompt %d is empty: decoding starts from at least one byte", i)
		}
	}
	items := d.items[:0]
	for i, p := range prompts {
		s := &d.seqs[i]
		s.window = append(s.window[:0], p[max(0, len(p)-d.e.Config.Block):]...)
		for pos, tok := range s.window {
			items = append(items, item{seq: i, pos: pos, tok: tok, last: pos == len(s.window)-1})
		}
	}
	d.items = items
	d.forward(items)
	return nil
}

// Append appends one byte to each sequence (sliding a full window first, see
// the package documentation) and computes the logits of the byte after it.
func (d *Decoder) Append(tokens []byte) error {
	if len(tokens) != len(d.seqs) {
		return errors.Errorf("%d bytes for a decoder of %d sequences", len(tokens), len(d.seqs))
	}
	block := d.e.Config.Block
	items := d.items[:0]
	for i, tok := range tokens {
		s := &d.seqs[i]
		if len(s.window) == 0 {
			return errors.Errorf("sequence %d has not started: call Start first", i)
		}
		if len(s.window) == block {
			s.window = slideWindow(s.window, block)
			for pos, t := range s.window {
				items = append(items, item{seq: i, pos: pos, tok: t})
			}
		}
		items = append(items, item{seq: i, pos: len(s.window), tok: tok, last: true})
		s.window = append(s.window, tok)
	}
	d.items = items
	d.forward(items)
	return nil
}

// slideWindow returns a full window cut to its last block/2 bytes, in place.
func slideWindow(window []byte, block int) []byte {
	keep := block / 2
	n := copy(window, window[len(window)-keep:])
	return window[:n]
}

// Logits returns the next-byte logits of sequence i (the decoder's own
// buffer, valid until the next Start or Append).
func (d *Decoder) Logits(i int) []float32 {
	v := d.e.Config.Vocab
	return d.logits[i*v : (i+1)*v]
}

// Window returns a copy of sequence i's window: the bytes its KV cache
// encodes, at positions 0, 1, ...
func (d *Decoder) Window(i int) []byte { return append([]byte(nil), d.seqs[i].window...) }

// ResetStats clears the statistics (ACT zeros and multiply-adds).
func (d *Decoder) ResetStats() {
	clear(d.zeros)
	clear(d.values)
	d.macs = 0
}

// Stats are a decoder's statistics since its last ResetStats.
type Stats struct {
	// SparsityBySite is the fraction of zeros of each ACT site's output,
	// keyed "block_LLL/<site>"; empty without ACT.
	SparsityBySite map[string]float64
	// MACs is the number of multiply-adds of the dense products (every
	// projection, the output head included; attention's own dot products
	// are not products of this kind).
	MACs int64
	// SkippableMACs is the number of those whose activation is an ACT zero:
	// the ones the sparse path skips.
	SkippableMACs int64
}

// Stats returns the statistics since the last ResetStats.
func (d *Decoder) Stats() Stats {
	st := Stats{SparsityBySite: map[string]float64{}, MACs: d.macs}
	cfg := d.e.Config
	outputs := [numSites]int64{3 * int64(cfg.Width), int64(cfg.Hidden()), int64(cfg.Width)}
	if cfg.Arch == charlm.ArchLlama {
		outputs[siteMLPIn] = 2 * int64(cfg.Hidden())
	}
	for l, b := range d.e.blocks {
		for s, on := range b.act {
			if on && d.values[l][s] > 0 {
				st.SparsityBySite[siteName(l, s)] = float64(d.zeros[l][s]) / float64(d.values[l][s])
				st.SkippableMACs += d.zeros[l][s] * outputs[s]
			}
		}
	}
	return st
}

// grow returns (*buf)[:n], reallocated if too small.
func grow[T any](buf *[]T, n int) []T {
	if cap(*buf) < n {
		*buf = make([]T, n)
	}
	return (*buf)[:n]
}

// forward runs the model over items: every item's keys and values go into its
// sequence's cache, and the logits of the items marked last into the
// sequences' logits. The items of a sequence are consecutive positions (or
// one), so each item attends to the cache up to its own position.
func (d *Decoder) forward(items []item) {
	e := d.e
	cfg := e.Config
	m, W, H := len(items), cfg.Width, cfg.Hidden()
	gpt := cfg.Arch == charlm.ArchGPT
	uWidth := H
	if !gpt {
		uWidth = 2 * H
	}
	x, h := grow(&d.x, m*W), grow(&d.h, m*W)
	qkv, y, o := grow(&d.qkv, m*3*W), grow(&d.y, m*W), grow(&d.o, m*W)
	u, a := grow(&d.u, m*uWidth), grow(&d.a, m*H)

	for r, it := range items {
		row := x[r*W : (r+1)*W]
		copy(row, e.tokenEmbed[int(it.tok)*W:])
		if gpt {
			for j, p := range e.posEmbed[it.pos*W : (it.pos+1)*W] {
				row[j] += p
			}
		}
	}
	for l := range e.blocks {
		b := &e.blocks[l]
		d.norm(h, x, b.norm1Gain, b.norm1Bias, m)
		d.act(l, siteAttnIn, h)
		d.product(qkv, h, b.qkv, b.qkvBias, m, W, 3*W, l, siteAttnIn)
		for r, it := range items {
			q, k, v := qkv[r*3*W:r*3*W+W], qkv[r*3*W+W:r*3*W+2*W], qkv[r*3*W+2*W:(r+1)*3*W]
			if !gpt {
				d.rope(q, it.pos)
				d.rope(k, it.pos)
			}
			d.cache(&d.seqs[it.seq], l, it.pos, k, v)
		}
		for r, it := range items {
			d.attend(y[r*W:(r+1)*W], qkv[r*3*W:r*3*W+W], &d.seqs[it.seq], l, it.pos)
		}
		d.product(o, y, b.out, b.outBias, m, W, W, l, -1)
		addTo(x, o)

		d.norm(h, x, b.norm2Gain, b.norm2Bias, m)
		d.act(l, siteMLPIn, h)
		d.product(u, h, b.mlpIn, b.mlpInBias, m, W, uWidth, l, siteMLPIn)
		if gpt {
			// On the sparse path, GELU is not computed where ACT will zero its
			// output anyway (see geluSkipFor): the same bits, less work.
			if d.sparse && b.act[siteMLPHidden] {
				idx := grow(&d.idx, len(u)+16)
				for _, i := range idx[:geluKept(a, u, b.geluSkip, idx)] {
					a[i] = gelu(u[i])
				}
			} else {
				for i, v := range u {
					a[i] = gelu(v)
				}
			}
		} else {
			for r := range m {
				gate, up := u[r*2*H:r*2*H+H], u[r*2*H+H:(r+1)*2*H]
				for j, g := range gate {
					a[r*H+j] = swiglu(g, up[j])
				}
			}
		}
		d.act(l, siteMLPHidden, a)
		d.product(o, a, b.mlpOut, b.mlpOutBias, m, H, W, l, siteMLPHidden)
		addTo(x, o)
	}

	// The final norm and the head, for the last items only.
	n := 0
	for _, it := range items {
		if it.last {
			n++
		}
	}
	xf, lf := grow(&d.xf, n*W), grow(&d.lf, n*cfg.Vocab)
	r := 0
	for i, it := range items {
		if it.last {
			copy(xf[r*W:(r+1)*W], x[i*W:(i+1)*W])
			r++
		}
	}
	d.norm(xf, xf, e.finalGain, e.finalBias, n)
	d.product(lf, xf, e.head, nil, n, W, cfg.Vocab, -1, -1)
	r = 0
	for _, it := range items {
		if it.last {
			copy(d.Logits(it.seq), lf[r*cfg.Vocab:(r+1)*cfg.Vocab])
			r++
		}
	}
}

// product computes dst = x·w + bias for m rows: with the sparse path's
// zero-skipping kernel when x is the output of ACT at site of block layer,
// with the dense kernel otherwise (site -1: no site).
func (d *Decoder) product(dst, x, w, bias []float32, m, k, n, layer, site int) {
	d.macs += int64(m) * int64(k) * int64(n)
	skip := d.sparse && site >= 0 && d.e.blocks[layer].act[site]
	switch {
	case skip && m == 1:
		sparse.MatVec(dst, x, w, bias, k, n)
	case skip:
		sparse.MatMul(dst, x, w, bias, m, k, n)
	case m == 1:
		sparse.DenseMatVec(dst, x, w, bias, k, n)
	default:
		sparse.DenseMatMul(dst, x, w, bias, m, k, n)
	}
}

// act applies ACT at site of block layer to v, if the site has ACT, as
// inference runs it: values with |v| below the frozen threshold become 0
// (NaN too, as in the graph), the others stay. It counts the zeros.
func (d *Decoder) act(layer, site int, v []float32) {
	b := &d.e.blocks[layer]
	if !b.act[site] {
		return
	}
	// tau >= 0 (checked at load).
	d.zeros[layer][site] += int64(sparse.Threshold(v, b.tau[site]))
	d.values[layer][site] += int64(len(v))
}

// norm normalizes each of the m rows of x into dst (which may be x): LayerNorm
// with gain and bias (gpt: (x - mean)/sqrt(var + eps)*gain + bias) or RMSNorm
// (llama, bias nil: x/sqrt(mean(x^2) + eps)*gain), by normRows.
func (d *Decoder) norm(dst, x, gain, bias []float32, m int) {
	normRows(dst, x, gain, bias, m, d.e.Config.Width, d.e.Config.NormEpsilon)
}

// rope rotates each head of q (one position's queries or keys, [width]) by
// the angles of position pos: within a head, element i pairs with element
// i + headWidth/2 (GoMLX's non-interleaved RoPE).
func (d *Decoder) rope(q []float32, pos int) {
	hw := d.e.Config.HeadWidth()
	half := hw / 2
	cos, sin := d.e.ropeCos[pos*half:(pos+1)*half], d.e.ropeSin[pos*half:(pos+1)*half]
	for h0 := 0; h0 < len(q); h0 += hw {
		x1, x2 := q[h0:h0+half], q[h0+half:h0+hw]
		for i := range half {
			a, b := float64(x1[i]), float64(x2[i])
			c, s := float64(cos[i]), float64(sin[i])
			x1[i], x2[i] = float32(a*c-b*s), float32(a*s+b*c)
		}
	}
}

// cache stores one position's keys and values ([width] each) in the
// sequence's cache of block layer.
func (d *Decoder) cache(s *sequence, layer, pos int, k, v []float32) {
	cfg := d.e.Config
	hw, block := cfg.HeadWidth(), cfg.Block
	for h := range cfg.Heads {
		kh, vh := k[h*hw:(h+1)*hw], s.k[layer][h]
		for i, x := range kh {
			vh[i*block+pos] = x
		}
		copy(s.v[layer][h][pos*hw:(pos+1)*hw], v[h*hw:(h+1)*hw])
	}
}

// attend computes causal attention for one item: y [width] is, per head,
// softmax(q·k_p / sqrt(headWidth)) over the cached positions p <= pos,
// applied to the cached values. The two products run on the dense kernels
// (the scores of all the block's positions, those after pos unused), the
// softmax by softmax (float32 with AVX-512, float64 otherwise).
func (d *Decoder) attend(y, q []float32, s *sequence, layer, pos int) {
	cfg := d.e.Config
	hw, block := cfg.HeadWidth(), cfg.Block
	scale := float32(1 / math.Sqrt(float64(hw)))
	scores, probs := grow(&d.scores, block), grow(&d.probs, pos+1)
	for h := range cfg.Heads {
		sparse.DenseMatVec(scores, q[h*hw:(h+1)*hw], s.k[layer][h], nil, hw, block)
		softmax(probs, scores, scale)
		sparse.DenseMatVec(y[h*hw:(h+1)*hw], probs, s.v[layer][h][:(pos+1)*hw], nil, pos+1, hw)
	}
}

// addTo adds o to x, element by element (the residual connection).
func addTo(x, o []float32) {
	o = o[:len(x)]
	for i, v := range o {
		x[i] += v
	}
}

// geluSkip is a set of GELU inputs whose output an ACT threshold certainly
// zeroes (|gelu(x)| < tau): the x < below outside [keepLo, keepHi].
type geluSkip struct {
	below, keepLo, keepHi float32
}

// noGeluSkip skips nothing.
var noGeluSkip = geluSkip{below: float32(math.Inf(-1)), keepLo: float32(math.Inf(1)), keepHi: float32(math.Inf(-1))}

// Bounds of geluSkipFor: GELU's minimum, about -0.169971 at x = -0.7518,
// is the largest |gelu(x)| over x < 0; geluSkipMinTau is the smallest
// threshold it skips anything for. The margin below tau, the larger of
// geluTauMargin*tau and geluAbsMargin, exceeds the float32 gelu's error:
// at most |x|*2^-21/2 + a few ulps (erf32 is within 2^-21 of erf), which
// is under 1.5e-6 for x in [-5.7, 0] and a relative 1e-6 for x > 0; for
// x < -4*sqrt(2) erf32 is exactly -1 and gelu exactly 0.
const (
	geluNegMax     = 0.169972
	geluMinX       = -0.7517916
	geluSkipMinTau = 0.01
	geluTauMargin  = 1e-5
	geluAbsMargin  = 2e-6
)

// geluSkipFor returns the GELU inputs that an ACT threshold tau at GELU's
// output certainly zeroes, so that the sparse path need not compute them:
// every x where the exact |gelu(x)| is below tau less a margin: for
// x >= 0, where gelu rises, those below the crossing (x·Phi(x) = that, at
// about 0.28 for tau = 0.17); for x < 0, all but an interval [keepLo,
// keepHi] around GELU's minimum (empty when tau(1 - margin) is above
// geluNegMax). The crossings are found by bisection in float64 and moved by
// 1e-6 to the safe side; the float32 gelu differs from the exact one by far
// less than the margin there.
//
// A threshold below geluSkipMinTau (or not finite) skips nothing. Inputs
// outside the set are computed and tested as usual, so skipping never
// changes a bit (TestGeluSkip scans the float32 inputs near every bound).
func geluSkipFor(tau float32) geluSkip {
	if !(tau >= geluSkipMinTau) || math.IsInf(float64(tau), 1) {
		return noGeluSkip
	}
	s := noGeluSkip
	t := float64(tau) - max(float64(tau)*geluTauMargin, geluAbsMargin)
	exact := func(x float64) float64 { return math.Abs(x * 0.5 * (1 + math.Erf(x/math.Sqrt2))) } // |gelu(x)|.
	// The x where |gelu| crosses t, between lo and hi, where |gelu| is rising
	// (or falling) in x.
	root := func(lo, hi float64, rising bool) float64 {
		for range 100 {
			mid := (lo + hi) / 2
			if (exact(mid) < t) == rising {
				lo = mid
			} else {
				hi = mid
			}
		}
		return (lo + hi) / 2
	}
	// For x >= 0, gelu rises from 0: every x below its crossing is skipped.
	s.below = float32(root(0, float64(tau)+10, true) - 1e-6)
	if t >= geluNegMax {
		return s
	}
	// For x < 0, |gelu| rises from 0 (at -Inf) to geluNegMax at geluMinX,
	// then falls to 0 at 0: the interval around geluMinX is kept.
	s.keepLo = float32(root(-40, geluMinX, true) - 1e-6)
	s.keepHi = float32(root(geluMinX, 0, false) + 1e-6)
	return s
}

// gelu is the exact GELU, x * (1 + erf(x/sqrt 2))/2, in float32 arithmetic
// as the graph computes it, with erf to float32 precision (erf32).
func gelu(x float32) float32 {
	return x * 0.5 * (1 + erf32(x*(1/math.Sqrt2)))
}

// erf32 is erf(x) to float32 precision (within 4 units in the last place
// of 1): the rational approximation x·P(x²)/Q(x²) on [-4, 4] of Eigen's and
// XLA's float32 erf; |erf(x)| rounds to 1 in float32 beyond 4. It is
// several times faster than math.Erf, which is otherwise the largest cost
// of a decoding step (its float32-to-float64 conversion alone makes a loop
// of them wait for each call's result).
func erf32(x float32) float32 {
	x = max(-4, min(4, x))
	x2 := x * x
	p := float32(-2.72614225801306e-10)
	p = p*x2 + 2.77068142495902e-08
	p = p*x2 - 2.10102402082508e-06
	p = p*x2 - 5.69250639462346e-05
	p = p*x2 - 7.34990630326855e-04
	p = p*x2 - 2.95459980854025e-03
	p = p*x2 - 1.60960333262415e-02
	q := float32(-1.45660718464996e-05)
	q = q*x2 - 2.13374055278905e-04
	q = q*x2 - 1.68282697438203e-03
	q = q*x2 - 7.37332916720468e-03
	q = q*x2 - 1.42647390514189e-02
	return x * p / q
}

// swiglu is silu(gate) * up = gate * sigmoid(gate) * up, computed in float64
// and rounded once.
func swiglu(gate, up float32) float32 {
	g := float64(gate)
	return float32(g / (1 + math.Exp(-g)) * float64(up))
}
