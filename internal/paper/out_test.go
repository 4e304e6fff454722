package paper

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestOutChecked: an -out that cannot be written is an error before any
// stage runs (it was found when results.json was first written, after the
// first stage's training).
func TestOutChecked(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("running as root: a read-only directory is writable")
	}
	out := filepath.Join(t.TempDir(), "out")
	require.NoError(t, os.Mkdir(out, 0o555))
	t.Cleanup(func() { _ = os.Chmod(out, 0o755) })
	var stdout, stderr bytes.Buffer
	err := Main([]string{"-profile", "tiny", "-out", out, "-runs", t.TempDir(), "-checkpoints", t.TempDir(), "-stages", "init", "-quiet"}, &stdout, &stderr)
	require.EqualError(t, err, "-out: write into "+out+": permission denied")
	require.Empty(t, stdout.String())
}
