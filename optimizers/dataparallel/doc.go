// Package dataparallel runs a data-parallel training step: each worker computes
// gradients on its shard, compresses them, exchanges the coded payloads through a
// Communicator (in-process, or MPI under the "mpi" build tag), and applies the
// averaged update identically on every worker.
package dataparallel
