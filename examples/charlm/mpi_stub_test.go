//go:build !mpi || !cgo

package main

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestMPIWithoutSupport: a charlm built without the "mpi" build tag, launched
// by mpirun, says how to build one that has it.
func TestMPIWithoutSupport(t *testing.T) {
	t.Setenv(mpiWorldSizeEnv, "2")
	err := run()
	require.EqualError(t, err, errNoMPI)
	require.Contains(t, err.Error(), "build with -tags mpi")
}
