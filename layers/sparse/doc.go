// Package sparse holds host kernels for the products that follow an activation
// made sparse by ACT: y = x·W (+ b) with a row-major kernel W [k, n] (GoMLX's
// Dense layout, [in, out]), computed by scaling and adding one row of W per
// non-zero element of x and skipping the zeros.
//
// [MatVec] (one activation vector, as in batch-1 decoding) and [MatMul] (a batch
// of rows) skip zeros; [DenseMatVec] and [DenseMatMul] are their dense
// counterparts, the baseline they are measured against. [Zeros] and [Sparsity]
// count the zeros an activation has.
//
// # Results
//
// Every kernel computes each output element as the same sequence of float32
// operations: starting from +0, for k = 0, 1, ... in order, acc = acc + x[k]·W[k][j],
// then y[j] = (acc + 0) + b[j] (the "+ 0" makes a zero result +0, never -0;
// without a bias y[j] = acc + 0). With AVX-512 (built with GOEXPERIMENT=simd
// on amd64, on a CPU that has it) each step is a fused multiply-add, rounded
// once; elsewhere the product and the sum are rounded separately, so the two
// builds can differ in the last bits.
//
// The sparse kernels leave out the terms whose x[k] is +0 or -0 (except in
// runs of x with few zeros, where adding every term is faster). Such a term
// adds an exact zero, which changes neither a non-zero sum nor, after the
// final "+ 0", a zero one, so for a kernel W without infinities or NaNs a
// sparse kernel's result is bit for bit its dense counterpart's (and MatMul's
// row r is MatVec's of that row), whatever x holds. NaN and ±Inf in x are not
// zeros: they propagate as in the dense product. An Inf or NaN in a row of W
// that meets a zero of x makes the dense result NaN, and the sparse one where
// it does not skip the term.
//
// # Arguments
//
// These are hot kernels: like the built-in bounds checks, they panic, with a
// message naming the argument, when a length does not match the dimensions
// (x, w, dst and a non-nil bias must have exactly the lengths given by m, k, n)
// or a dimension is negative. dst must not overlap x, w or bias. Large
// products are split among up to GOMAXPROCS goroutines.
package sparse
