package charlm

import (
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/pkg/errors"
)

// CorpusGoSrc is the -data value (TrainConfig.Data) of the larger corpus that
// ships with Go: every ".go" file under $GOROOT/src, concatenated as they are
// (no separators) in the byte order of their slash-separated paths relative
// to $GOROOT/src. With Go 1.26 that is about 7,700 files and 90 MB, a hundred
// and fifty times Newton's Opticks, enough for the larger model sizes (see
// Sizes) not to see the same window twice. It is deterministic for a given Go
// installation; the results record its size and FNV-1a hash (Corpus.Hash), as
// for any corpus, and a resume checks them, so a run cannot continue on
// another Go version's sources. It splits 90/10 like the default corpus: the
// validation split is the tail of the sorted files (mostly vendor/ and
// testdata).
//
// "gosrc:N" is the same corpus cut to its first N bytes (N a number of bytes,
// or with a K, M or G suffix for KiB, MiB, GiB: "gosrc:4M"), for quick runs
// and tests; the split applies to the cut corpus. Only the files needed are
// read.
//
// The corpus is read into one buffer of its exact size, file by file, in
// place: nothing is cached or written outside the run's own directories. A
// file named "gosrc" is given as "./gosrc".
const CorpusGoSrc = "gosrc"

// goSrcFile is a file of the gosrc corpus: its path relative to the source
// directory (slash-separated) and its size when listed.
type goSrcFile struct {
	rel  string
	size int64
}

// parseGoSrcSpec parses a -data value: ok is false for anything but
// CorpusGoSrc or "gosrc:N"; limit is N (0 for the whole corpus).
func parseGoSrcSpec(spec string) (limit int64, ok bool, err error) {
	name, arg, hasArg := strings.Cut(strings.TrimSpace(spec), ":")
	if name != CorpusGoSrc {
		return 0, false, nil
	}
	if !hasArg {
		return 0, true, nil
	}
	unit := int64(1)
	switch {
	case strings.HasSuffix(arg, "K"):
		unit, arg = 1<<10, strings.TrimSuffix(arg, "K")
	case strings.HasSuffix(arg, "M"):
		unit, arg = 1<<20, strings.TrimSuffix(arg, "M")
	case strings.HasSuffix(arg, "G"):
		unit, arg = 1<<30, strings.TrimSuffix(arg, "G")
	}
	n, err := strconv.ParseInt(arg, 10, 64)
	if err != nil || n <= 0 || n > (1<<62)/unit {
		return 0, true, errors.Errorf("-data %q: want %s or %s:N, N a positive number of bytes (with an optional K, M or G suffix)",
			spec, CorpusGoSrc, CorpusGoSrc)
	}
	return n * unit, true, nil
}

// goSrcDir returns $GOROOT/src of the first candidate GOROOT (see goRoots)
// that has one.
func goSrcDir() (string, error) {
	roots := goRoots()
	for _, root := range roots {
		dir := filepath.Join(root, "src")
		if fi, err := os.Stat(dir); err == nil && fi.IsDir() {
			return dir, nil
		}
	}
	return "", errors.Errorf("-data %s: no GOROOT with a src directory (looked in %q)", CorpusGoSrc, roots)
}

// listGoSrc returns the regular ".go" files under dir, sorted by their
// slash-separated relative paths (byte order), and their total size.
// Symbolic links are not followed, nor listed.
func listGoSrc(dir string) ([]goSrcFile, int64, error) {
	var files []goSrcFile
	var total int64
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.Type().IsRegular() || !strings.HasSuffix(d.Name(), ".go") {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		files = append(files, goSrcFile{rel: filepath.ToSlash(rel), size: info.Size()})
		total += info.Size()
		return nil
	})
	if err != nil {
		return nil, 0, errors.Wrapf(err, "listing the .go files under %s", dir)
	}
	// WalkDir's order is per directory ("a/b.go" before "a.go"): sort the whole paths.
	slices.SortFunc(files, func(a, b goSrcFile) int { return strings.Compare(a.rel, b.rel) })
	return files, total, nil
}

// readGoSrc reads the gosrc corpus of dir (see CorpusGoSrc): the files of
// listGoSrc concatenated, cut to limit bytes if limit > 0. It returns the
// bytes and the number of files read (the last one possibly in part). A file
// whose size changes while it is read is an error.
func readGoSrc(dir string, limit int64) ([]byte, int, error) {
	files, total, err := listGoSrc(dir)
	if err != nil {
		return nil, 0, err
	}
	if limit > 0 {
		total = min(total, limit)
	}
	if int64(int(total)) != total {
		return nil, 0, errors.Errorf("the .go files under %s hold %d bytes: too many for this platform", dir, total)
	}
	data := make([]byte, total)
	off, n := int64(0), 0
	for _, f := range files {
		if off == total {
			break
		}
		want := min(f.size, total-off)
		if err := readFileInto(filepath.Join(dir, filepath.FromSlash(f.rel)), data[off:off+want], want == f.size); err != nil {
			return nil, 0, err
		}
		off += want
		n++
	}
	if off != total {
		return nil, 0, errors.Errorf("the .go files under %s changed while being read", dir)
	}
	return data, n, nil
}

// readFileInto fills buf with the first len(buf) bytes of the file at path;
// whole says buf should hold the whole file, which must then end there.
func readFileInto(path string, buf []byte, whole bool) error {
	f, err := os.Open(path)
	if err != nil {
		return errors.Wrap(err, "reading the gosrc corpus")
	}
	defer func() { _ = f.Close() }()
	if _, err := io.ReadFull(f, buf); err != nil {
		return errors.Wrapf(err, "reading the gosrc corpus: %s changed while being read", path)
	}
	if whole {
		var one [1]byte
		if n, _ := f.Read(one[:]); n > 0 {
			return errors.Errorf("reading the gosrc corpus: %s grew while being read", path)
		}
	}
	return nil
}

// loadGoSrc returns the gosrc corpus of dir, cut to limit bytes if limit > 0
// (see CorpusGoSrc), split 90/10 as newCorpus does. Its Path is
// dir/**/*.go (written "$GOROOT/src/**/*.go" by PortablePath).
func loadGoSrc(dir string, limit int64) (*Corpus, error) {
	data, _, err := readGoSrc(dir, limit)
	if err != nil {
		return nil, err
	}
	c, err := newCorpus(data)
	if err != nil {
		return nil, errors.WithMessagef(err, "the .go files under %s", dir)
	}
	c.Path = filepath.Join(dir, "**", "*.go")
	return c, nil
}
