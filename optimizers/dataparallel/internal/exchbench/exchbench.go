// Package exchbench measures the host side of a data-parallel gradient
// exchange (encode, all-gather, decode) on a model-sized gradient drawn from a
// generalized Gaussian, for GCT's Exp-Golomb coding and for raw fp32. The
// package's benchmark and the exchangebench program share it.
package exchbench

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/ggprior/ggprior/ggx"
	"github.com/ggprior/ggprior/optimizers"
	"github.com/ggprior/ggprior/optimizers/dataparallel"
	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
)

// Workload is one variable's gradient in wire form, ready to exchange.
type Workload struct {
	// Name is "fp32" or "gct:<bits>bits".
	Name string
	// N is the number of elements.
	N int
	// Grads is the wire gradient (one variable) and Specs its receiver-side description.
	Grads []dataparallel.WireGradient
	Specs []dataparallel.VariableSpec
	// BitsPerElement is the coded size per element (32 for fp32).
	BitsPerElement float64
}

// Finalize frees the workload's tensors.
func (w Workload) Finalize() {
	for _, g := range w.Grads {
		if g.Ints != nil {
			_ = g.Ints.FinalizeAll()
		}
		if g.Dense != nil {
			_ = g.Dense.FinalizeAll()
		}
	}
}

// GGGradient returns n float32 values drawn from a zero-mean GG of shape beta
// and standard deviation std, seeded.
func GGGradient(n int, beta, std float64, seed uint64) []float32 {
	d := ggx.FromStdDev(0, std, beta)
	d.Src = rand.NewPCG(seed, 0x9e3779b97f4a7c15)
	xs := make([]float32, n)
	for i := range xs {
		xs[i] = float32(d.Rand())
	}
	return xs
}

// FP32 returns the workload that sends grad as raw float32.
func FP32(grad []float32) Workload {
	t := tensors.FromFlatDataAndDimensions(grad, len(grad))
	return Workload{
		Name: "fp32", N: len(grad), BitsPerElement: 32,
		Grads: []dataparallel.WireGradient{{Kind: dataparallel.KindDense, Dense: t}},
		Specs: []dataparallel.VariableSpec{{Path: "/grad", Shape: shapes.Make(dtypes.Float32, len(grad))}},
	}
}

// GCT returns the workload that sends grad as GCT does: quantized in a GoMLX
// graph by optimizers.GGQuantizer(bits, 0) (the step from the GG fitted to
// grad), coded with Exp-Golomb.
func GCT(backend compute.Backend, grad []float32, bits float64) (Workload, error) {
	comp := optimizers.GGQuantizer(bits, 0)
	store := model.NewStore()
	exec, err := model.NewExec(backend, store, func(scope *model.Scope, x *Node) []*Node {
		c := comp.Compress(scope, nil, x)
		return []*Node{c.Ints, ConvertDType(c.Step, dtypes.Float32), ConvertDType(c.Bits, dtypes.Float64)}
	})
	if err != nil {
		return Workload{}, err
	}
	defer exec.Finalize()
	x := tensors.FromFlatDataAndDimensions(grad, len(grad))
	defer x.MustFinalizeAll()
	out, err := exec.Call(x)
	if err != nil {
		return Workload{}, fmt.Errorf("quantizing the gradient: %w", err)
	}
	defer func() { _ = out[1].FinalizeAll(); _ = out[2].FinalizeAll() }()
	return Workload{
		Name: comp.Name(), N: len(grad),
		BitsPerElement: tensors.ToScalar[float64](out[2]) / float64(len(grad)),
		Grads: []dataparallel.WireGradient{{
			Kind: dataparallel.KindExpGolomb, Ints: out[0], Step: tensors.ToScalar[float32](out[1]), K: 0,
		}},
		Specs: []dataparallel.VariableSpec{{Path: "/grad", Shape: shapes.Make(dtypes.Float32, len(grad))}},
	}, nil
}

// Result is one rank's measurement, per exchange (per step).
type Result struct {
	Ranks        int
	Iters        int
	PayloadBytes int
	Encode       time.Duration
	Exchange     time.Duration
	Decode       time.Duration
}

// Measured returns encode + exchange + decode.
func (r Result) Measured() time.Duration { return r.Encode + r.Exchange + r.Decode }

// Codec returns encode + decode.
func (r Result) Codec() time.Duration { return r.Encode + r.Decode }

// WireTime returns how long the all-gather would take on links of gbps
// Gbit/s: each rank sends its payload to, and receives one from, each of the
// W-1 others (a ring all-gather on full-duplex links moves (W-1) payloads
// through every link): (W-1) * bytes * 8 / (gbps * 1e9) seconds.
func (r Result) WireTime(gbps float64) time.Duration {
	secs := float64(r.Ranks-1) * float64(r.PayloadBytes) * 8 / (gbps * 1e9)
	return time.Duration(secs * float64(time.Second))
}

// TotalAt returns Codec() + WireTime(gbps): the exchange's time on such links.
func (r Result) TotalAt(gbps float64) time.Duration { return r.Codec() + r.WireTime(gbps) }

// Run measures iters exchanges of w on comm: every rank of comm must call it
// at the same time with the same workload and iters. One iteration encodes
// the payload (dataparallel.AppendPayload), all-gathers it and decodes the
// peers' payloads (dataparallel.PayloadDecoder), exactly as Trainer.Step does.
func Run(backend compute.Backend, comm dataparallel.Communicator, w Workload, iters int) (Result, error) {
	res := Result{Ranks: comm.Size(), Iters: iters}
	dec := dataparallel.NewPayloadDecoder(backend, w.Specs)
	defer dec.Finalize()
	var buf []byte
	for it := range iters {
		start := time.Now()
		payload, _, err := dataparallel.AppendPayload(buf[:0], dataparallel.PayloadHeader{Step: int64(it)}, w.Grads)
		if err != nil {
			return res, err
		}
		buf = payload
		t1 := time.Now()
		all, err := comm.AllGather(payload)
		if err != nil {
			return res, err
		}
		t2 := time.Now()
		for r, p := range all {
			if r == comm.Rank() {
				continue
			}
			if _, _, err := dec.Decode(r, p); err != nil {
				return res, err
			}
		}
		t3 := time.Now()
		res.Encode += t1.Sub(start)
		res.Exchange += t2.Sub(t1)
		res.Decode += t3.Sub(t2)
		res.PayloadBytes = len(payload)
	}
	if iters > 0 {
		res.Encode /= time.Duration(iters)
		res.Exchange /= time.Duration(iters)
		res.Decode /= time.Duration(iters)
	}
	return res, nil
}
