package mnist

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
)

// savedSynthetic writes a synthetic dataset into a new directory and returns both.
func savedSynthetic(t *testing.T, nTrain, nTest int) (string, *Dataset) {
	t.Helper()
	dir := t.TempDir()
	d := Synthetic(nTrain, nTest, 1)
	require.NoError(t, Save(dir, d))
	return dir, d
}

// gunzip returns the decompressed content of a gzip file.
func gunzip(t *testing.T, path string) []byte {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	zr, err := gzip.NewReader(f)
	require.NoError(t, err)
	b, err := io.ReadAll(zr)
	require.NoError(t, err)
	return b
}

// gzipBytes compresses b.
func gzipBytes(b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_, _ = zw.Write(b)
	_ = zw.Close()
	return buf.Bytes()
}

func TestSaveLoad(t *testing.T) {
	dir, want := savedSynthetic(t, 200, 50)
	for _, f := range Files {
		require.FileExists(t, filepath.Join(dir, f))
	}
	raw := gunzip(t, filepath.Join(dir, TrainImagesFile))
	require.Equal(t, uint32(0x803), binary.BigEndian.Uint32(raw))
	require.Equal(t, []uint32{200, 28, 28}, []uint32{binary.BigEndian.Uint32(raw[4:]), binary.BigEndian.Uint32(raw[8:]), binary.BigEndian.Uint32(raw[12:])})
	require.Len(t, raw, 16+200*28*28)

	got, err := Load(dir)
	require.NoError(t, err)
	require.Equal(t, want, got)
	require.Equal(t, 784, got.Pixels())
	seen := map[uint8]bool{}
	for _, l := range got.Train.Labels {
		seen[l] = true
	}
	require.Len(t, seen, NumClasses, "200 draws cover the 10 classes")

	// Uncompressed files (names without .gz) load the same.
	plain := t.TempDir()
	for _, f := range Files {
		require.NoError(t, os.WriteFile(filepath.Join(plain, strings.TrimSuffix(f, ".gz")), gunzip(t, filepath.Join(dir, f)), 0o644))
	}
	got, err = Load(plain)
	require.NoError(t, err)
	require.Equal(t, want, got)
}

func TestLoadErrors(t *testing.T) {
	_, err := Load(t.TempDir())
	require.ErrorIs(t, err, fs.ErrNotExist)
	require.ErrorContains(t, err, TrainImagesFile+" (or train-images-idx3-ubyte) not found")

	// corrupt rewrites one file of a fresh copy of the dataset and returns Load's error.
	corrupt := func(file string, edit func(raw []byte) []byte, gz bool) error {
		dir, _ := savedSynthetic(t, 30, 20)
		raw := gunzip(t, filepath.Join(dir, file))
		out := edit(raw)
		if gz {
			out = gzipBytes(out)
		}
		require.NoError(t, os.WriteFile(filepath.Join(dir, file), out, 0o644))
		_, err := Load(dir)
		return err
	}
	setUint32 := func(offset int, v uint32) func([]byte) []byte {
		return func(raw []byte) []byte { binary.BigEndian.PutUint32(raw[offset:], v); return raw }
	}
	for _, c := range []struct {
		name, file string
		edit       func([]byte) []byte
		gz         bool
		want       string
	}{
		{"magic", TrainImagesFile, setUint32(0, 0x801), true, "IDX magic number 0x00000801, want 0x00000803"},
		{"labels magic", TestLabelsFile, setUint32(0, 0x803), true, "IDX magic number 0x00000803, want 0x00000801"},
		{"truncated data", TrainImagesFile, func(raw []byte) []byte { return raw[:len(raw)-5] }, true, "truncated IDX data: dimensions [30 28 28] need 23520 bytes, the file has 23515"},
		{"truncated header", TestImagesFile, func(raw []byte) []byte { return raw[:10] }, true, "truncated IDX header"},
		{"empty", TestLabelsFile, func(raw []byte) []byte { return nil }, true, "truncated IDX file"},
		{"extra bytes", TrainLabelsFile, func(raw []byte) []byte { return append(raw, 1, 2) }, true, "2 bytes after the IDX data"},
		{"zero dimension", TrainImagesFile, setUint32(8, 0), true, "IDX dimension 1 is 0"},
		{"count mismatch", TrainLabelsFile, func(raw []byte) []byte { binary.BigEndian.PutUint32(raw[4:], 29); return raw[:len(raw)-1] }, true, "has 30 images but " + TrainLabelsFile + " has 29 labels"},
		{"label range", TestLabelsFile, func(raw []byte) []byte { raw[8+3] = 10; return raw }, true, "label 10 of example 3"},
		{"truncated gzip", TrainImagesFile, func(raw []byte) []byte { gz := gzipBytes(raw); return gz[:len(gz)/2] }, false, "corrupt or truncated gzip data"},
		{"image size", TestImagesFile, func(raw []byte) []byte {
			binary.BigEndian.PutUint32(raw[8:], 14)
			binary.BigEndian.PutUint32(raw[12:], 56)
			return raw
		}, true, "has 14x56 images but " + TrainImagesFile + " has 28x28"},
	} {
		err := corrupt(c.file, c.edit, c.gz)
		require.ErrorContains(t, err, c.want, c.name)
		require.NotErrorIs(t, err, fs.ErrNotExist, c.name)
	}
}

// mirror is a test HTTP server that serves the files of dir under /mnist/ and
// counts the requests.
type mirror struct {
	*httptest.Server
	requests atomic.Int32
}

func newMirror(t *testing.T, handler http.HandlerFunc) *mirror {
	m := &mirror{}
	m.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m.requests.Add(1)
		handler(w, r)
	}))
	t.Cleanup(m.Close)
	return m
}

// setBaseURLs replaces BaseURLs for the duration of the test.
func setBaseURLs(t *testing.T, urls ...string) {
	saved := BaseURLs
	BaseURLs = urls
	t.Cleanup(func() { BaseURLs = saved })
}

func TestDownload(t *testing.T) {
	src, want := savedSynthetic(t, 40, 20)
	good := newMirror(t, func(w http.ResponseWriter, r *http.Request) {
		http.StripPrefix("/mnist/", http.FileServer(http.Dir(src))).ServeHTTP(w, r)
	})
	missing := newMirror(t, http.NotFound)
	setBaseURLs(t, missing.URL+"/mnist/", good.URL+"/mnist")

	dir := filepath.Join(t.TempDir(), "cache", "mnist")
	require.NoError(t, Download(dir))
	require.Equal(t, int32(4), good.requests.Load())
	require.Equal(t, int32(4), missing.requests.Load(), "the first mirror is tried first for each file")
	got, err := Load(dir)
	require.NoError(t, err)
	require.Equal(t, want, got)
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, entries, 4, "no temporary file left")
	for _, e := range entries {
		info, err := e.Info()
		require.NoError(t, err)
		require.Equal(t, os.FileMode(0o644), info.Mode().Perm(), e.Name())
	}

	// The second time, the cache is used: no request.
	require.NoError(t, Download(dir))
	got, err = LoadOrDownload(dir)
	require.NoError(t, err)
	require.Equal(t, want, got)
	require.Equal(t, int32(4), good.requests.Load())

	// A corrupt cached file is fetched again.
	require.NoError(t, os.WriteFile(filepath.Join(dir, TestLabelsFile), []byte("garbage"), 0o644))
	got, err = LoadOrDownload(dir)
	require.NoError(t, err)
	require.Equal(t, want, got)
	require.Equal(t, int32(5), good.requests.Load())
}

func TestDownloadUnavailable(t *testing.T) {
	notFound := newMirror(t, http.NotFound)
	garbage := newMirror(t, func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("<html>not a dataset</html>")) })
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	for _, c := range []struct {
		name string
		urls []string
		want string
	}{
		{"404", []string{notFound.URL}, "404 Not Found"},
		{"garbage", []string{garbage.URL + "/"}, "IDX magic number 0x3c68746d"},
		{"connection refused", []string{closed.URL}, "connect"},
		{"all", []string{notFound.URL, closed.URL}, "404 Not Found; Get"},
		{"no mirror", nil, "no mirror"},
	} {
		setBaseURLs(t, c.urls...)
		dir := filepath.Join(t.TempDir(), "data")
		err := Download(dir)
		require.ErrorIs(t, err, ErrUnavailable, c.name)
		var unavailable *UnavailableError
		require.True(t, errors.As(err, &unavailable), c.name)
		msg := err.Error()
		require.True(t, strings.HasPrefix(msg, "mnist: data not available (download failed: "), msg)
		require.Contains(t, msg, c.want, c.name)
		require.True(t, strings.HasSuffix(msg, "); put the 4 IDX files ("+strings.Join(Files, ", ")+") in "+homeRelative(dir)), msg)
		require.NotContains(t, msg, "\n", c.name)
		entries, err := os.ReadDir(dir)
		require.NoError(t, err)
		require.Empty(t, entries, c.name)

		_, err = LoadOrDownload(dir)
		require.ErrorIs(t, err, ErrUnavailable, c.name)
	}

	// No network: the host name, not the resolver's address; the directory
	// from the home directory.
	home, err := os.UserHomeDir()
	require.NoError(t, err)
	dnsErr := func(host string) error {
		return fmt.Errorf("Get %q: %w", "https://"+host+"/x", &net.OpError{Op: "dial", Net: "tcp",
			Err: &net.DNSError{Err: "no such host", Name: host, Server: "192.0.2.53:53", IsNotFound: true}})
	}
	msg := (&UnavailableError{Dir: filepath.Join(home, ".cache", "ggprior", "mnist"),
		Err: errors.Join(dnsErr("a.example"), dnsErr("b.example"))}).Error()
	require.Equal(t, "mnist: data not available (download failed: cannot resolve a.example; cannot resolve b.example); "+
		"put the 4 IDX files ("+strings.Join(Files, ", ")+") in "+filepath.Join("~", ".cache", "ggprior", "mnist"), msg)
	require.Equal(t, "/elsewhere/mnist", homeRelative("/elsewhere/mnist"))

	// Failing to create the directory is not "unavailable".
	file := filepath.Join(t.TempDir(), "file")
	require.NoError(t, os.WriteFile(file, nil, 0o644))
	err = Download(filepath.Join(file, "sub"))
	require.Error(t, err)
	require.NotErrorIs(t, err, ErrUnavailable)
}

func TestDefaultDir(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", "/somewhere/cache")
	t.Setenv("HOME", "/somewhere/home")
	dir, err := DefaultDir()
	require.NoError(t, err)
	cache, err := os.UserCacheDir()
	require.NoError(t, err)
	require.Equal(t, filepath.Join(cache, "ggprior", "mnist"), dir)
}
