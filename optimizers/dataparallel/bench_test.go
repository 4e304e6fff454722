package dataparallel_test

import (
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/ggprior/ggprior/internal/testbackend"
	"github.com/ggprior/ggprior/optimizers/dataparallel"
	"github.com/ggprior/ggprior/optimizers/dataparallel/internal/exchbench"
)

// BenchmarkExchange measures one step's gradient exchange on the in-process
// communicator with 2 workers: encode + all-gather + decode of a model-sized
// gradient (1e6 and 1e7 float32 elements, GG with beta=0.5), GCT at 2 bits
// per element against raw fp32, measured in the same run.
//
// Metrics, per step and per worker: encode_ms, exchange_ms, decode_ms
// (measured), payload_B, wire_ms@1Gbps = (W-1)*payload_B*8/1e9 s (the time the
// payload needs on a 1 Gbit/s full-duplex link), total_ms@1Gbps = encode +
// decode + wire, codec_frac@1Gbps = (encode + decode) / total, and for GCT
// the ratios to fp32 of the measured time and of the time at 1 Gbit/s.
//
//	go test ./optimizers/dataparallel/ -run '^$' -bench Exchange -benchtime 10x
func BenchmarkExchange(b *testing.B) {
	const ranks, beta, bits = 2, 0.5, 2.0
	backend := testbackend.Get(b)
	for _, n := range []int{1_000_000, 10_000_000} {
		grad := exchbench.GGGradient(n, beta, 1e-3, uint64(n))
		gct, err := exchbench.GCT(backend, grad, bits)
		if err != nil {
			b.Fatal(err)
		}
		var fp32Result exchbench.Result
		for _, w := range []exchbench.Workload{exchbench.FP32(grad), gct} {
			runtime.GC()
			b.Run(fmt.Sprintf("n=%d/%s", n, w.Name), func(b *testing.B) {
				comms, err := dataparallel.NewInProcess(ranks, time.Minute)
				if err != nil {
					b.Fatal(err)
				}
				results := make([]exchbench.Result, ranks)
				errs := make([]error, ranks)
				b.ResetTimer()
				var wg sync.WaitGroup
				for r, c := range comms {
					wg.Go(func() { results[r], errs[r] = exchbench.Run(backend, c, w, b.N) })
				}
				wg.Wait()
				b.StopTimer()
				for _, err := range errs {
					if err != nil {
						b.Fatal(err)
					}
				}
				res := results[0]
				ms := func(d time.Duration) float64 { return float64(d) / 1e6 }
				b.ReportMetric(ms(res.Encode), "encode_ms")
				b.ReportMetric(ms(res.Exchange), "exchange_ms")
				b.ReportMetric(ms(res.Decode), "decode_ms")
				b.ReportMetric(float64(res.PayloadBytes), "payload_B")
				b.ReportMetric(w.BitsPerElement, "bits/elem")
				b.ReportMetric(ms(res.WireTime(1)), "wire_ms@1Gbps")
				b.ReportMetric(ms(res.TotalAt(1)), "total_ms@1Gbps")
				b.ReportMetric(float64(res.Codec())/float64(res.TotalAt(1)), "codec_frac@1Gbps")
				if w.Name == "fp32" {
					fp32Result = res
				} else if fp32Result.Iters > 0 {
					b.ReportMetric(float64(res.Measured())/float64(fp32Result.Measured()), "measured/fp32")
					b.ReportMetric(float64(res.TotalAt(1))/float64(fp32Result.TotalAt(1)), "total@1Gbps/fp32")
				}
			})
		}
		gct.Finalize()
	}
}
