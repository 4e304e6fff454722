// Package backends chooses the GoMLX compute backend for ggprior's examples,
// commands and tests.
//
// The rule, in order:
//
//  1. If GOMLX_BACKEND is set, it is used as given ("go", "xla:cpu", "xla:cuda",
//     "xla:/path/to/pjrt_plugin.so", ...).
//  2. Otherwise, in a binary built with the "xla" build tag (cgo on), XLA is used
//     if a PJRT plugin is installed where XLA looks for one.
//  3. Otherwise the pure-Go backend is used, as GoDefaultConfig (see there why).
//
// Unlike GoMLX's own compute.New, it never fails just because XLA is linked in
// without a plugin: it falls back to the pure-Go backend and says so in a
// one-line notice. Without the "xla" build tag the binary has no cgo dependency
// and asking for XLA is an error that says how to rebuild.
//
// Determinism: NewWithOptions with Options.Deterministic (programs resolve
// it from a -deterministic flag, a [Determinism], and [DeterministicEnvVar],
// GGPRIOR_DETERMINISTIC) sets XLA_FLAGS to [DeterministicXLAFlags] before
// XLA starts, so that XLA's GPU runs are bit-reproducible (at some cost in
// speed); the pure-Go backend is deterministic already and is left as it is.
// XLA reads XLA_FLAGS once per process: the first XLA backend decides.
//
// Installing a PJRT plugin: the CPU plugin comes from GoMLX's installer (see
// github.com/gomlx/go-xla), the CUDA plugin ships inside JAX's CUDA wheels
// (jax-cuda12-pjrt: a file named xla_cuda_plugin.so); point GOMLX_BACKEND at
// "xla:/path/to/that/file.so", or put it in one of XLA's search directories
// (PJRT_PLUGIN_LIBRARY_PATH, /usr/local/lib/go-xla, ~/.local/lib/go-xla).
package backends
