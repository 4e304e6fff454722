package outfile

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// requireOnly checks that dir holds exactly the given names.
func requireOnly(t *testing.T, dir string, names ...string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	require.ElementsMatch(t, names, got)
}

// TestWriteFile checks that a write replaces the file whole with the given
// permissions, and that a failed one keeps the previous file and leaves no
// temporary file.
func TestWriteFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "r.json")
	require.NoError(t, WriteFile(path, []byte("first\n"), 0o644))
	require.NoError(t, WriteFile(path, []byte("second\n"), 0o640))
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, "second\n", string(data))
	info, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o640), info.Mode().Perm())

	failed := errors.New("encoder failed")
	err = Write(path, 0o644, func(w io.Writer) error {
		_, _ = w.Write([]byte("partial"))
		return failed
	})
	require.ErrorIs(t, err, failed)
	data, err = os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, "second\n", string(data), "a failed write keeps the previous file")
	requireOnly(t, dir, "r.json")

	err = WriteFile(filepath.Join(dir, "missing", "r.json"), nil, 0o644)
	require.ErrorContains(t, err, "write "+filepath.Join(dir, "missing", "r.json")+": no such file or directory")
}

// TestCheckFile checks the outputs that cannot be written (a missing
// directory, a directory in place of the file, a file in place of the
// directory) and that the check leaves nothing behind.
func TestCheckFile(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, CheckFile(filepath.Join(dir, "r.json")))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "file"), nil, 0o644))
	requireOnly(t, dir, "file")
	require.NoError(t, CheckFile(filepath.Join(dir, "file")), "an existing file is replaced")

	require.EqualError(t, CheckFile(filepath.Join(dir, "missing", "r.json")),
		"cannot write "+filepath.Join(dir, "missing", "r.json")+": directory "+filepath.Join(dir, "missing")+" does not exist")
	require.EqualError(t, CheckFile(dir), "cannot write "+dir+": it is a directory")
	require.EqualError(t, CheckFile(filepath.Join(dir, "file", "r.json")),
		"cannot write "+filepath.Join(dir, "file", "r.json")+": "+filepath.Join(dir, "file")+" is not a directory")
	requireOnly(t, dir, "file")
}

// TestCheckDir checks an existing directory, a directory to create (which the
// check does not create), and a file in place of the directory or of a parent.
func TestCheckDir(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, CheckDir(dir))
	require.NoError(t, CheckDir(filepath.Join(dir, "a", "b")))
	requireOnly(t, dir)

	file := filepath.Join(dir, "file")
	require.NoError(t, os.WriteFile(file, nil, 0o644))
	require.EqualError(t, CheckDir(file), "cannot write into "+file+": it is not a directory")
	require.EqualError(t, CheckDir(filepath.Join(file, "ckpt")),
		"cannot create directory "+filepath.Join(file, "ckpt")+": "+file+" is not a directory")
}

// TestReadOnly checks files and directories in a read-only directory.
func TestReadOnly(t *testing.T) {
	readOnly := readOnlyDir(t)
	require.ErrorContains(t, CheckFile(filepath.Join(readOnly, "r.json")), "write "+filepath.Join(readOnly, "r.json")+": permission denied")
	require.ErrorContains(t, CheckDir(readOnly), "write into "+readOnly+": permission denied")
	require.ErrorContains(t, CheckDir(filepath.Join(readOnly, "ckpt")), "create directory "+filepath.Join(readOnly, "ckpt")+": permission denied")
}

// readOnlyDir returns a directory that the test cannot write into; it skips
// the test where permissions do not stop the process (as root).
func readOnlyDir(t *testing.T) string {
	t.Helper()
	if os.Geteuid() == 0 {
		t.Skip("running as root: a read-only directory is writable")
	}
	dir := filepath.Join(t.TempDir(), "ro")
	require.NoError(t, os.Mkdir(dir, 0o555))
	t.Cleanup(func() { _ = os.Chmod(dir, 0o755) })
	return dir
}
