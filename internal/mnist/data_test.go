package mnist

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
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
	for _, f := range files {
		require.FileExists(t, filepath.Join(dir, f))
	}
	raw := gunzip(t, filepath.Join(dir, trainImagesFile))
	require.Equal(t, uint32(0x803), binary.BigEndian.Uint32(raw))
	require.Equal(t, []uint32{200, 28, 28}, []uint32{binary.BigEndian.Uint32(raw[4:]), binary.BigEndian.Uint32(raw[8:]), binary.BigEndian.Uint32(raw[12:])})
	require.Len(t, raw, 16+200*28*28)

	got, err := load(dir)
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
	for _, f := range files {
		require.NoError(t, os.WriteFile(filepath.Join(plain, strings.TrimSuffix(f, ".gz")), gunzip(t, filepath.Join(dir, f)), 0o644))
	}
	got, err = load(plain)
	require.NoError(t, err)
	require.Equal(t, want, got)
}

func TestLoadErrors(t *testing.T) {
	_, err := load(t.TempDir())
	require.ErrorIs(t, err, fs.ErrNotExist)
	require.ErrorContains(t, err, trainImagesFile+" (or train-images-idx3-ubyte) not found")

	// corrupt rewrites one file of a fresh copy of the dataset and returns Load's error.
	corrupt := func(file string, edit func(raw []byte) []byte, gz bool) error {
		dir, _ := savedSynthetic(t, 30, 20)
		raw := gunzip(t, filepath.Join(dir, file))
		out := edit(raw)
		if gz {
			out = gzipBytes(out)
		}
		require.NoError(t, os.WriteFile(filepath.Join(dir, file), out, 0o644))
		_, err := load(dir)
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
		{"magic", trainImagesFile, setUint32(0, 0x801), true, "IDX magic number 0x00000801, want 0x00000803"},
		{"labels magic", testLabelsFile, setUint32(0, 0x803), true, "IDX magic number 0x00000803, want 0x00000801"},
		{"truncated data", trainImagesFile, func(raw []byte) []byte { return raw[:len(raw)-5] }, true, "truncated IDX data: dimensions [30 28 28] need 23520 bytes, the file has 23515"},
		{"truncated header", testImagesFile, func(raw []byte) []byte { return raw[:10] }, true, "truncated IDX header"},
		{"empty", testLabelsFile, func(raw []byte) []byte { return nil }, true, "truncated IDX file"},
		{"extra bytes", trainLabelsFile, func(raw []byte) []byte { return append(raw, 1, 2) }, true, "2 bytes after the IDX data"},
		{"zero dimension", trainImagesFile, setUint32(8, 0), true, "IDX dimension 1 is 0"},
		{"count mismatch", trainLabelsFile, func(raw []byte) []byte { binary.BigEndian.PutUint32(raw[4:], 29); return raw[:len(raw)-1] }, true, "has 30 images but " + trainLabelsFile + " has 29 labels"},
		{"label range", testLabelsFile, func(raw []byte) []byte { raw[8+3] = 10; return raw }, true, "label 10 of example 3"},
		{"truncated gzip", trainImagesFile, func(raw []byte) []byte { gz := gzipBytes(raw); return gz[:len(gz)/2] }, false, "corrupt or truncated gzip data"},
		{"image size", testImagesFile, func(raw []byte) []byte {
			binary.BigEndian.PutUint32(raw[8:], 14)
			binary.BigEndian.PutUint32(raw[12:], 56)
			return raw
		}, true, "has 14x56 images but " + trainImagesFile + " has 28x28"},
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

// setGoCommand replaces GoCommand for the duration of the test.
func setGoCommand(t *testing.T, cmd string) {
	saved := GoCommand
	GoCommand = cmd
	t.Cleanup(func() { GoCommand = saved })
}

// Environment of the fake go command (see fakeGoMain).
const (
	fakeGoModeEnv = "GGPRIOR_MNIST_FAKE_GO"     // Its behavior.
	fakeGoDirEnv  = "GGPRIOR_MNIST_FAKE_GO_DIR" // The module directory it reports.
	fakeGoLogEnv  = "GGPRIOR_MNIST_FAKE_GO_LOG" // A file where it appends a line per call.
)

// TestMain runs the test binary as a fake go command when fakeGoModeEnv is set.
func TestMain(m *testing.M) {
	if mode := os.Getenv(fakeGoModeEnv); mode != "" {
		os.Exit(fakeGoMain(mode))
	}
	os.Exit(m.Run())
}

// fakeGoMain plays "go mod download -json MODULE@VERSION" and returns the exit
// status: mode "fail" fails with an error message on stderr, "json-error"
// fails as the go command does when the module cannot be had, "garbage"
// succeeds with an output that is not JSON, "wrong-sum" reports another
// checksum, and "ok" reports the module in the directory fakeGoDirEnv. Any
// other arguments, a working directory in a module or a workspace make it
// fail with exit status 2.
func fakeGoMain(mode string) int {
	if log := os.Getenv(fakeGoLogEnv); log != "" {
		f, err := os.OpenFile(log, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err == nil {
			_, _ = fmt.Fprintln(f, strings.Join(os.Args[1:], " "))
			_ = f.Close()
		}
	}
	wd, _ := os.Getwd()
	if want := strings.Join(goModuleArgs(), " "); strings.Join(os.Args[1:], " ") != want {
		fmt.Fprintf(os.Stderr, "fake go: arguments %q, want %q\n", os.Args[1:], want)
		return 2
	}
	if _, err := os.Stat(filepath.Join(wd, "go.mod")); err == nil || os.Getenv("GOWORK") != "off" || os.Getenv("GO111MODULE") != "on" {
		fmt.Fprintf(os.Stderr, "fake go: run in %s with GOWORK=%q GO111MODULE=%q\n", wd, os.Getenv("GOWORK"), os.Getenv("GO111MODULE"))
		return 2
	}
	module := GoModulePath + "@" + GoModuleVersion
	info := map[string]string{"Path": GoModulePath, "Version": GoModuleVersion}
	switch mode {
	case "fail":
		fmt.Fprintln(os.Stderr, "go: fake failure\nsecond line")
		return 1
	case "json-error":
		info["Error"] = module + ": module lookup disabled by GOPROXY=off"
	case "garbage":
		fmt.Println("not json")
		return 0
	case "wrong-sum":
		info["Dir"], info["Sum"] = os.Getenv(fakeGoDirEnv), "h1:wrong="
	case "ok":
		info["Dir"], info["Sum"] = os.Getenv(fakeGoDirEnv), goModuleSum
	default:
		fmt.Fprintf(os.Stderr, "fake go: unknown mode %q\n", mode)
		return 2
	}
	b, _ := json.MarshalIndent(info, "", "\t")
	fmt.Println(string(b))
	if info["Error"] != "" {
		return 1
	}
	return 0
}

// fakeGo makes GoCommand the test binary acting as a go command in the given
// mode (see fakeGoMain), reporting moduleDir as the module's directory, and
// returns the file where it logs its calls.
func fakeGo(t *testing.T, mode, moduleDir string) (log string) {
	exe, err := os.Executable()
	require.NoError(t, err)
	setGoCommand(t, exe)
	log = filepath.Join(t.TempDir(), "go.log")
	t.Setenv(fakeGoModeEnv, mode)
	t.Setenv(fakeGoDirEnv, moduleDir)
	t.Setenv(fakeGoLogEnv, log)
	return log
}

// goCalls returns the number of calls of the fake go command logged in log.
func goCalls(t *testing.T, log string) int {
	b, err := os.ReadFile(log)
	if errors.Is(err, fs.ErrNotExist) {
		return 0
	}
	require.NoError(t, err)
	return strings.Count(string(b), "\n")
}

// moduleWith returns a fake module directory whose data folder holds the
// given files of a saved synthetic dataset.
func moduleWith(t *testing.T, src string, files ...string) string {
	mod := t.TempDir()
	require.NoError(t, os.Mkdir(filepath.Join(mod, goModuleDataDir), 0o755))
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(src, f))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(mod, goModuleDataDir, f), b, 0o444))
	}
	return mod
}

// TestGoModule gets the real files through the go command: from the Go module
// cache, or from the Go module proxy the first time. The mirrors are not
// used. A second time, into another directory, with the proxy turned off, the
// files come from the module cache alone (no network).
func TestGoModule(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skipf("no go command in PATH: %v", err)
	}
	setGoCommand(t, "go")
	never := newMirror(t, http.NotFound)
	setBaseURLs(t, never.URL)
	modDir, err := goModuleDir()
	require.NoError(t, err)
	require.DirExists(t, filepath.Join(modDir, goModuleDataDir))

	for _, proxy := range []string{"", "off"} {
		if proxy != "" {
			t.Setenv("GOPROXY", proxy)
		}
		dir := filepath.Join(t.TempDir(), "mnist")
		require.NoError(t, download(dir), "GOPROXY=%q", proxy)
		d, err := load(dir)
		require.NoError(t, err)
		require.Equal(t, []int{28, 28, 60000, 10000}, []int{d.Rows, d.Cols, d.Train.N, d.Test.N})
		for _, f := range files {
			info, err := os.Stat(filepath.Join(dir, f))
			require.NoError(t, err)
			require.Equal(t, os.FileMode(0o644), info.Mode().Perm(), "a writable copy of %s", f)
		}
	}
	require.Zero(t, never.requests.Load(), "no mirror tried")
}

func TestGoModuleFake(t *testing.T) {
	src, want := savedSynthetic(t, 40, 20)
	never := newMirror(t, http.NotFound)
	setBaseURLs(t, never.URL)

	// The module's files are copied; a second call runs nothing.
	log := fakeGo(t, "ok", moduleWith(t, src, files...))
	dir := filepath.Join(t.TempDir(), "cache", "mnist")
	got, err := LoadOrDownload(dir)
	require.NoError(t, err)
	require.Equal(t, want, got)
	require.Equal(t, 1, goCalls(t, log))
	require.NoError(t, download(dir))
	_, err = LoadOrDownload(dir)
	require.NoError(t, err)
	require.Equal(t, 1, goCalls(t, log), "cached: the go command is not run again")
	require.Zero(t, never.requests.Load())

	// A corrupt cached file is copied again.
	require.NoError(t, os.WriteFile(filepath.Join(dir, trainLabelsFile), []byte("garbage"), 0o644))
	got, err = LoadOrDownload(dir)
	require.NoError(t, err)
	require.Equal(t, want, got)
	require.Equal(t, 2, goCalls(t, log))

	// Failing to write the directory is not "unavailable", and the mirrors
	// are not tried (a non-empty directory in the place of a file).
	dir = t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, trainImagesFile, "sub"), 0o755))
	err = download(dir)
	require.Error(t, err)
	require.NotErrorIs(t, err, ErrUnavailable)
	require.True(t, strings.HasPrefix(err.Error(), "mnist: "), err.Error())
	require.Zero(t, never.requests.Load())

	// A file the module lacks comes from the mirrors, only that one.
	good := newMirror(t, func(w http.ResponseWriter, r *http.Request) { http.FileServer(http.Dir(src)).ServeHTTP(w, r) })
	setBaseURLs(t, good.URL)
	fakeGo(t, "ok", moduleWith(t, src, trainImagesFile, trainLabelsFile, testImagesFile))
	dir = t.TempDir()
	require.NoError(t, download(dir))
	require.Equal(t, int32(1), good.requests.Load())
	got, err = load(dir)
	require.NoError(t, err)
	require.Equal(t, want, got)
}

// TestGoModuleErrors checks the errors of GoModuleDir, and that Download
// then tries the mirrors and reports both.
func TestGoModuleErrors(t *testing.T) {
	src, _ := savedSynthetic(t, 30, 20)
	corrupt := moduleWith(t, src, files...)
	require.NoError(t, os.Chmod(filepath.Join(corrupt, goModuleDataDir, testImagesFile), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(corrupt, goModuleDataDir, testImagesFile), []byte("garbage"), 0o644))
	exe, err := os.Executable()
	require.NoError(t, err)
	cmdLine := exe + " mod download -json " + GoModulePath + "@" + GoModuleVersion
	notFound := newMirror(t, http.NotFound)
	setBaseURLs(t, notFound.URL)
	for _, c := range []struct {
		mode, moduleDir string
		want            string
	}{
		{"fail", "", cmdLine + ": exit status 1: go: fake failure; second line"},
		{"json-error", "", cmdLine + ": module lookup disabled by GOPROXY=off"},
		{"garbage", "", cmdLine + `: reading its output "not json": invalid character`},
		{"wrong-sum", src, cmdLine + `: module checksum "h1:wrong=", want "` + goModuleSum + `"`},
		{"ok", "", cmdLine + ": it reported no module directory"},
		{"ok", corrupt, cmdLine + ": module file " + filepath.Join(corrupt, goModuleDataDir, testImagesFile) + ": mnist: " + testImagesFile + ": IDX magic number"},
	} {
		fakeGo(t, c.mode, c.moduleDir)
		dir := filepath.Join(t.TempDir(), "mnist")
		if c.moduleDir != corrupt {
			_, err := goModuleDir()
			var modErr *GoModuleError
			require.ErrorAs(t, err, &modErr, c.mode)
			require.Equal(t, cmdLine, modErr.Command)
			require.True(t, strings.HasPrefix(err.Error(), c.want), "%s: %v", c.mode, err)
		}
		err := download(dir)
		require.ErrorIs(t, err, ErrUnavailable, c.mode)
		msg := err.Error()
		require.True(t, strings.HasPrefix(msg, "mnist: data not available (download failed: "+c.want), "%s: %s", c.mode, msg)
		require.Contains(t, msg, "; GET "+notFound.URL+"/", c.mode)
		require.NotContains(t, msg, "\n", c.mode)
	}
	require.Equal(t, int32(6), notFound.requests.Load(), "the mirrors are tried after the module, once per call")

	// The go command not found, as a path or in PATH.
	for _, cmd := range []string{filepath.Join(t.TempDir(), "no-go"), "go"} {
		setGoCommand(t, cmd)
		t.Setenv("PATH", t.TempDir())
		_, err := goModuleDir()
		require.ErrorContains(t, err, fmt.Sprintf("go command %q not found (install Go, or set PATH)", cmd))
		require.ErrorContains(t, download(t.TempDir()), "not found (install Go, or set PATH); GET ")
	}

	// No go command: the mirrors alone.
	setGoCommand(t, "")
	err = download(t.TempDir())
	require.True(t, strings.HasPrefix(err.Error(), "mnist: data not available (download failed: GET "), err.Error())
	_, err = goModuleDir()
	require.ErrorContains(t, err, "no go command")
}

func TestDownload(t *testing.T) {
	src, want := savedSynthetic(t, 40, 20)
	good := newMirror(t, func(w http.ResponseWriter, r *http.Request) {
		http.StripPrefix("/mnist/", http.FileServer(http.Dir(src))).ServeHTTP(w, r)
	})
	missing := newMirror(t, http.NotFound)
	setBaseURLs(t, missing.URL+"/mnist/", good.URL+"/mnist")
	log := fakeGo(t, "json-error", "")

	dir := filepath.Join(t.TempDir(), "cache", "mnist")
	require.NoError(t, download(dir))
	require.Equal(t, 1, goCalls(t, log), "the Go module is tried first, once")
	require.Equal(t, int32(4), good.requests.Load())
	require.Equal(t, int32(4), missing.requests.Load(), "the first mirror is tried first for each file")
	got, err := load(dir)
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
	require.NoError(t, download(dir))
	got, err = LoadOrDownload(dir)
	require.NoError(t, err)
	require.Equal(t, want, got)
	require.Equal(t, int32(4), good.requests.Load())
	require.Equal(t, 1, goCalls(t, log))

	// A corrupt cached file is fetched again.
	require.NoError(t, os.WriteFile(filepath.Join(dir, testLabelsFile), []byte("garbage"), 0o644))
	got, err = LoadOrDownload(dir)
	require.NoError(t, err)
	require.Equal(t, want, got)
	require.Equal(t, int32(5), good.requests.Load())
}

func TestDownloadUnavailable(t *testing.T) {
	setGoCommand(t, "") // The mirrors alone.
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
		err := download(dir)
		require.ErrorIs(t, err, ErrUnavailable, c.name)
		var unavailable *UnavailableError
		require.True(t, errors.As(err, &unavailable), c.name)
		msg := err.Error()
		require.True(t, strings.HasPrefix(msg, "mnist: data not available (download failed: "), msg)
		require.Contains(t, msg, c.want, c.name)
		require.True(t, strings.HasSuffix(msg, "); put the 4 IDX files ("+strings.Join(files, ", ")+") in "+homeRelative(dir)), msg)
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
	modErr := &GoModuleError{Command: "go mod download -json m@v", Err: errors.New("Get \"https://proxy.example/m\": dial tcp: lookup proxy.example: no such host\n")}
	msg := (&UnavailableError{Dir: filepath.Join(home, ".cache", "ggprior", "mnist"),
		Err: errors.Join(modErr, errors.Join(dnsErr("a.example"), dnsErr("b.example")))}).Error()
	require.Equal(t, "mnist: data not available (download failed: go mod download -json m@v: Get \"https://proxy.example/m\": dial tcp: lookup proxy.example: no such host; "+
		"cannot resolve a.example; cannot resolve b.example); "+
		"put the 4 IDX files ("+strings.Join(files, ", ")+") in "+filepath.Join("~", ".cache", "ggprior", "mnist"), msg)
	require.Equal(t, "/elsewhere/mnist", homeRelative("/elsewhere/mnist"))

	// Failing to create the directory is not "unavailable".
	file := filepath.Join(t.TempDir(), "file")
	require.NoError(t, os.WriteFile(file, nil, 0o644))
	err = download(filepath.Join(file, "sub"))
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
