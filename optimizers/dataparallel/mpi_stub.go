//go:build !mpi || !cgo

package dataparallel

import (
	"errors"
	"time"
)

// MPIAvailable reports whether this binary was built with MPI support (the
// "mpi" build tag, with cgo).
const MPIAvailable = false

// NewMPI returns an error: this binary was built without the "mpi" build tag
// (or without cgo, which MPI support needs).
// Rebuild with `-tags mpi` (needs cgo and OpenMPI's development files, e.g.
// Debian's openmpi-bin and libopenmpi-dev) and run the program with mpirun.
func NewMPI(timeout time.Duration) (Communicator, error) {
	_ = timeout
	return nil, errors.New("dataparallel.NewMPI: this binary was built without MPI support: " +
		"rebuild with `-tags mpi` and cgo enabled (OpenMPI's development files needed) and launch it with mpirun")
}
