//go:build mpi && cgo

package main

import (
	"github.com/ggprior/ggprior/internal/charlm"
	"github.com/ggprior/ggprior/optimizers/dataparallel"
)

// newMPICommunicator initializes MPI and returns this process's rank of the
// job that mpirun launched (dataparallel.NewMPI), whose collectives time out
// after charlm.ParallelTimeout: a rank that dies or hangs ends the job.
func newMPICommunicator() (dataparallel.Communicator, error) {
	return dataparallel.NewMPI(charlm.ParallelTimeout)
}
