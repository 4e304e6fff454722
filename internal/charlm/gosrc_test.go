package charlm

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// fakeGoSrc writes a small source tree under a temporary directory: .go files
// whose sorted order differs from WalkDir's ("a.go" before "a/b.go"), a file
// that is not Go, and a symbolic link, which the corpus skips.
func fakeGoSrc(t *testing.T) (dir string, want string) {
	t.Helper()
	dir = t.TempDir()
	files := map[string]string{
		"a/b.go":     "package b\n",
		"a.go":       "package a\n",
		"z/y/x.go":   "package x // last\n",
		"a/c.go":     "package c\n",
		"a/notes.md": "not Go\n",
		"m.go":       "",
	}
	for rel, text := range files {
		p := filepath.Join(dir, filepath.FromSlash(rel))
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(text), 0o644))
	}
	if err := os.Symlink(filepath.Join(dir, "a.go"), filepath.Join(dir, "link.go")); err != nil {
		t.Logf("no symbolic link: %v", err)
	}
	return dir, "package a\n" + "package b\n" + "package c\n" + "" + "package x // last\n"
}

// TestGoSrcFakeTree checks the corpus builder on a small tree: the .go files
// only, in sorted path order, concatenated; the same hash twice; a cut to N
// bytes is the corpus's first N bytes.
func TestGoSrcFakeTree(t *testing.T) {
	dir, want := fakeGoSrc(t)
	files, total, err := listGoSrc(dir)
	require.NoError(t, err)
	var rels []string
	for _, f := range files {
		rels = append(rels, f.rel)
	}
	require.Equal(t, []string{"a.go", "a/b.go", "a/c.go", "m.go", "z/y/x.go"}, rels)
	require.Equal(t, int64(len(want)), total)

	c1, err := loadGoSrc(dir, 0)
	require.NoError(t, err)
	c2, err := loadGoSrc(dir, 0)
	require.NoError(t, err)
	require.Equal(t, want, string(c1.Train)+string(c1.Val))
	require.Equal(t, len(want), c1.Size)
	require.Equal(t, int(float64(len(want))*trainFraction), len(c1.Train))
	require.Equal(t, c1.Hash, c2.Hash)
	ref, err := newCorpus([]byte(want))
	require.NoError(t, err)
	require.Equal(t, ref.Hash, c1.Hash, "the hash of the concatenation")
	require.Equal(t, filepath.Join(dir, "**", "*.go"), c1.Path)

	for _, limit := range []int64{5, 10, 15, int64(len(want)), 1000} {
		data, n, err := readGoSrc(dir, limit)
		require.NoError(t, err)
		require.Equal(t, want[:min(int(limit), len(want))], string(data), "limit %d", limit)
		require.Positive(t, n)
	}
}

func TestParseGoSrcSpec(t *testing.T) {
	for spec, want := range map[string]int64{"gosrc": 0, " gosrc ": 0, "gosrc:100": 100, "gosrc:4K": 4 << 10, "gosrc:2M": 2 << 20, "gosrc:1G": 1 << 30} {
		limit, ok, err := parseGoSrcSpec(spec)
		require.NoError(t, err, spec)
		require.True(t, ok, spec)
		require.Equal(t, want, limit, spec)
	}
	for _, spec := range []string{"", "opticks.txt", "./gosrc", "gosrcx"} {
		_, ok, err := parseGoSrcSpec(spec)
		require.NoError(t, err, spec)
		require.False(t, ok, spec)
	}
	for _, spec := range []string{"gosrc:", "gosrc:0", "gosrc:-3", "gosrc:1T", "gosrc:x"} {
		_, ok, err := parseGoSrcSpec(spec)
		require.True(t, ok, spec)
		require.ErrorContains(t, err, "gosrc:N", spec)
	}
}

// TestGoSrcCorpus reads the real corpus of this Go installation twice: the
// same bytes (hash) both times, tens of MB, its files in sorted order (the
// first bytes are those of the first sorted file), and a cut corpus is its
// prefix. The full read is skipped with -short.
func TestGoSrcCorpus(t *testing.T) {
	dir, err := goSrcDir()
	require.NoError(t, err)
	files, total, err := listGoSrc(dir)
	require.NoError(t, err)
	require.Greater(t, len(files), 1000)
	require.Greater(t, total, int64(10<<20), "tens of MB")
	for i := 1; i < len(files); i++ {
		require.Less(t, files[i-1].rel, files[i].rel)
	}
	first, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(files[0].rel)))
	require.NoError(t, err)

	cut, err := loadCorpus("gosrc:64K")
	require.NoError(t, err)
	require.Equal(t, 64<<10, cut.Size)
	prefix := append(append([]byte{}, cut.Train...), cut.Val...)
	require.True(t, strings.HasPrefix(string(prefix), string(first[:min(len(first), len(prefix))])))
	require.True(t, strings.HasSuffix(filepath.ToSlash(PortablePath(cut.Path)), "src/**/*.go"), PortablePath(cut.Path))
	if testing.Short() {
		t.Skip("-short: the full corpus is not read")
	}
	start := time.Now()
	c1, err := loadCorpus(CorpusGoSrc)
	require.NoError(t, err)
	t.Logf("gosrc: %d files, %d bytes, hash %x, read in %v", len(files), c1.Size, c1.Hash, time.Since(start))
	require.Equal(t, int(total), c1.Size)
	require.Equal(t, prefix, c1.Train[:len(prefix)])
	c2, err := loadCorpus(CorpusGoSrc)
	require.NoError(t, err)
	require.Equal(t, c1.Hash, c2.Hash)
	require.Equal(t, c1.Size, c2.Size)
}

// TestGoSrcTrains trains the tiny model two steps on the first 256 KiB of
// the gosrc corpus.
func TestGoSrcTrains(t *testing.T) {
	exp := tinyExperiment(t, ArchGPT, "gosrc:256K", 2, nil, "")
	exp.Train.ValWindows = 16
	results, err := exp.Run()
	require.NoError(t, err)
	require.Len(t, results.LossCurve, 2)
	require.Equal(t, 256<<10, results.Config.Corpus.Size)
	require.Greater(t, results.ValLoss["2"], 0.0)
}
