// Package pngtest holds the one check the tests of the examples share on the
// figures they write: that a file is a decodable PNG image.
package pngtest

import (
	"image/png"
	"os"
	"testing"

	"github.com/stretchr/testify/require"
)

// Require checks that path holds a decodable PNG image.
func Require(t testing.TB, path string) {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer func() { _ = f.Close() }()
	_, err = png.Decode(f)
	require.NoError(t, err, path)
}
