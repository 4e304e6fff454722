//go:build !mpi || !cgo

package main

import (
	"github.com/ggprior/ggprior/optimizers/dataparallel"
	"github.com/pkg/errors"
)

// newMPICommunicator returns errNoMPI: this charlm was built without the
// "mpi" build tag (or without cgo), so it can't be a rank of an mpirun job.
func newMPICommunicator() (dataparallel.Communicator, error) {
	return nil, errors.New(errNoMPI)
}
