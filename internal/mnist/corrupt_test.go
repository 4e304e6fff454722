package mnist

import (
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestDownloadCorrupt: when the files are in the directory but corrupt, and
// no valid copy can be had, the notice names each corrupt file and why (it
// said "put the 4 IDX files in DIR", where they were).
func TestDownloadCorrupt(t *testing.T) {
	setGoCommand(t, "")
	notFound := newMirror(t, http.NotFound)
	setBaseURLs(t, notFound.URL)
	dir, _ := savedSynthetic(t, 20, 10)
	images := filepath.Join(dir, trainImagesFile)
	raw, err := os.ReadFile(images)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(images, raw[:len(raw)/2], 0o644)) // Truncated.
	require.NoError(t, os.WriteFile(filepath.Join(dir, testLabelsFile), gzipBytes([]byte("not an IDX file")), 0o644))

	_, err = LoadOrDownload(dir)
	require.ErrorIs(t, err, ErrUnavailable)
	require.EqualError(t, err, "mnist: data not available (download failed: GET "+notFound.URL+"/"+trainImagesFile+": 404 Not Found); "+
		"replace the corrupt files in "+homeRelative(dir)+" ("+trainImagesFile+": corrupt or truncated gzip data: unexpected EOF; "+
		testLabelsFile+": IDX magic number 0x6e6f7420, want 0x00000801 (unsigned-byte labels: count))")
}
