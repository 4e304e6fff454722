// Command exchangebench measures the host side of one data-parallel step's
// gradient exchange (encode, all-gather, decode) for a model-sized gradient
// drawn from a generalized Gaussian (shape -beta), GCT's Exp-Golomb coding at
// -bits bits per element against raw fp32, in the same run, and prints the
// figures with the time the exchange would take on -gbps links.
//
// In-process workers (goroutines sharing memory):
//
//	go run ./optimizers/dataparallel/cmd/exchangebench -ranks 2
//
// One MPI process per worker (build tag mpi, OpenMPI):
//
//	go build -tags mpi -o exchangebench ./optimizers/dataparallel/cmd/exchangebench
//	mpirun -np 2 ./exchangebench -mpi
//
// The time at G Gbit/s is encode + decode + (W-1) * payload_bytes * 8 / (G * 1e9)
// seconds: a ring all-gather on full-duplex links moves W-1 payloads through
// every link.
package main

import (
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ggprior/ggprior/backends"
	"github.com/ggprior/ggprior/optimizers/dataparallel"
	"github.com/ggprior/ggprior/optimizers/dataparallel/internal/exchbench"
)

var (
	flagMPI     = flag.Bool("mpi", false, "use MPI (one process per worker; build with -tags mpi, launch with mpirun)")
	flagRanks   = flag.Int("ranks", 2, "number of in-process workers (without -mpi)")
	flagSizes   = flag.String("sizes", "1e6,1e7", "gradient sizes (float32 elements), comma-separated")
	flagIters   = flag.Int("iters", 10, "exchanges measured per size and coding (after one warm-up)")
	flagBeta    = flag.Float64("beta", 0.5, "GG shape of the gradient")
	flagBits    = flag.Float64("bits", 2, "GCT's target bits per element")
	flagGbps    = flag.Float64("gbps", 1, "link speed for the modelled exchange time, Gbit/s")
	flagTimeout = flag.Duration("timeout", time.Minute, "per-collective timeout")
)

func main() {
	flag.Parse()
	if err := run(); err != nil {
		fmt.Fprintf(os.Stderr, "exchangebench: %v\n", err)
		os.Exit(1)
	}
}

func run() error {
	var sizes []int
	for _, s := range strings.Split(*flagSizes, ",") {
		f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil || f < 1 {
			return fmt.Errorf("bad -sizes entry %q", s)
		}
		sizes = append(sizes, int(f))
	}
	backend := backends.Go()

	var comms []dataparallel.Communicator
	if *flagMPI {
		c, err := dataparallel.NewMPI(*flagTimeout)
		if err != nil {
			return err
		}
		comms = []dataparallel.Communicator{c}
	} else {
		group, err := dataparallel.NewInProcess(*flagRanks, *flagTimeout)
		if err != nil {
			return err
		}
		for _, c := range group {
			comms = append(comms, c)
		}
	}
	defer func() {
		for _, c := range comms {
			_ = c.Close()
		}
	}()
	world := comms[0].Size()
	lead := comms[0].Rank() == 0
	transport := "in-process"
	if *flagMPI {
		transport = "MPI"
	}
	if lead {
		fmt.Printf("exchange of one gradient among %d workers (%s), GG beta=%g; per step, per worker; "+
			"at %g Gbit/s: encode + decode + (W-1)*bytes*8/(%g*1e9) s\n", world, transport, *flagBeta, *flagGbps, *flagGbps)
		fmt.Printf("%-10s %-11s %9s %9s %10s %9s %9s %12s %11s %12s %10s\n", "n", "coding", "bits/elem", "payload_B",
			"encode_ms", "exch_ms", "decode_ms", "measured_ms", "wire_ms", "total_ms", "codec_frac")
	}
	for _, n := range sizes {
		// Each worker draws its own gradient (seeded by rank), as real workers would.
		workloads := make([][]exchbench.Workload, len(comms))
		for i, c := range comms {
			grad := exchbench.GGGradient(n, *flagBeta, 1e-3, uint64(n)+uint64(c.Rank()))
			gct, err := exchbench.GCT(backend, grad, *flagBits)
			if err != nil {
				return err
			}
			workloads[i] = []exchbench.Workload{exchbench.FP32(grad), gct}
		}
		var fp32 exchbench.Result
		for j := range workloads[0] {
			results := make([]exchbench.Result, len(comms))
			errs := make([]error, len(comms))
			var wg sync.WaitGroup
			for i, c := range comms {
				wg.Go(func() {
					if _, errs[i] = exchbench.Run(backend, c, workloads[i][j], 1); errs[i] != nil { // Warm-up.
						return
					}
					results[i], errs[i] = exchbench.Run(backend, c, workloads[i][j], *flagIters)
				})
			}
			wg.Wait()
			for _, err := range errs {
				if err != nil {
					return err
				}
			}
			res, w := results[0], workloads[0][j]
			if j == 0 {
				fp32 = res
			}
			if lead {
				ms := func(d time.Duration) float64 { return float64(d) / 1e6 }
				fmt.Printf("%-10d %-11s %9.3f %9d %10.2f %9.2f %9.2f %12.2f %11.2f %12.2f %10.3f\n",
					n, w.Name, w.BitsPerElement, res.PayloadBytes, ms(res.Encode), ms(res.Exchange), ms(res.Decode),
					ms(res.Measured()), ms(res.WireTime(*flagGbps)), ms(res.TotalAt(*flagGbps)),
					float64(res.Codec())/float64(res.TotalAt(*flagGbps)))
				if j > 0 {
					fmt.Printf("%-10d %-11s measured/fp32=%.3f  total@%gGbps/fp32=%.3f  bytes/fp32=%.4f\n", n, w.Name,
						float64(res.Measured())/float64(fp32.Measured()), *flagGbps,
						float64(res.TotalAt(*flagGbps))/float64(fp32.TotalAt(*flagGbps)),
						float64(res.PayloadBytes)/float64(fp32.PayloadBytes))
				}
			}
		}
		for _, ws := range workloads {
			for _, w := range ws {
				w.Finalize()
			}
		}
	}
	return nil
}
