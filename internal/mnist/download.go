package mnist

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// BaseURLs are the mirrors Download tries, in order, for each file: the file's
// URL is the base URL followed by its name (see Files). The original site,
// yann.lecun.com, no longer serves the files reliably.
var BaseURLs = []string{
	"https://storage.googleapis.com/cvdf-datasets/mnist/",
	"https://ossci-datasets.s3.amazonaws.com/mnist/",
}

// HTTPClient is the client Download uses: at most 15 seconds to connect and
// 3 minutes per file (the largest is 9.9 MB).
var HTTPClient = &http.Client{
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
// LoadOrDownload when the data cannot be fetched here (no network, every
// mirror failing or serving something else than the files). Callers that can
// do without MNIST print the error (one line, which says where to put the
// files) and skip.
var ErrUnavailable = errors.New("mnist: data not available")

// UnavailableError is the error of a failed download; it matches ErrUnavailable
// with errors.Is and unwraps to the cause.
type UnavailableError struct {
	// Dir is the directory where the files were to be written.
	Dir string
	// Err is why: the failures of every mirror (errors.Join) for the first
	// file that could not be fetched.
	Err error
}

// Error returns the one-line notice "mnist: data not available (download
// failed: CAUSE); put the 4 IDX files in DIR". A mirror whose host name
// does not resolve (no network) reads "cannot resolve HOST", without the
// resolver's address, and a DIR in the user's home directory starts with
// "~", so the notice can be pasted into a report as it is.
func (e *UnavailableError) Error() string {
	return fmt.Sprintf("mnist: data not available (download failed: %s); put the 4 IDX files (%s) in %s",
		describeFailure(e.Err), strings.Join(Files, ", "), homeRelative(e.Dir))
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
	return strings.ReplaceAll(err.Error(), "\n", "; ")
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

// Download fetches the four MNIST files (Files) into dir, creating it if
// needed, from the first of BaseURLs that serves each. A file already in dir
// that passes the checks of Load (gzip-compressed or not) is kept: dir is a
// cache, and a second call makes no request. A downloaded file is checked
// (gzip content, IDX magic number, dimensions and size) before it is written,
// to a temporary file renamed into place, so dir never holds a partial file.
//
// When a file cannot be fetched from any mirror, Download returns an
// *UnavailableError (errors.Is(err, ErrUnavailable)); errors writing dir are
// returned as they are.
func Download(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("mnist: creating the data directory: %w", err)
	}
	for _, file := range Files {
		if _, err := readFile(dir, file); err == nil {
			continue // Cached.
		}
		raw, err := fetch(file)
		if err != nil {
			return &UnavailableError{Dir: dir, Err: err}
		}
		if err := writeAtomic(filepath.Join(dir, file), raw); err != nil {
			return err
		}
	}
	return nil
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
	resp, err := HTTPClient.Get(url)
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

// writeAtomic writes data to path through a temporary file in the same
// directory, renamed into place.
func writeAtomic(path string, data []byte) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("mnist: %w", err)
	}
	defer func() {
		if err != nil {
			_ = os.Remove(tmp.Name())
		}
	}()
	if err = tmp.Chmod(0o644); err != nil { // CreateTemp makes it 0600.
		_ = tmp.Close()
		return fmt.Errorf("mnist: %w", err)
	}
	if _, err = tmp.Write(data); err != nil {
		_ = tmp.Close()
		return fmt.Errorf("mnist: writing %s: %w", path, err)
	}
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("mnist: writing %s: %w", path, err)
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("mnist: %w", err)
	}
	return nil
}

// LoadOrDownload returns the dataset in dir, downloading the files that are
// missing (or invalid) first (see Download and Load). When they cannot be
// fetched, the error matches ErrUnavailable.
func LoadOrDownload(dir string) (*Dataset, error) {
	if d, err := Load(dir); err == nil {
		return d, nil
	}
	if err := Download(dir); err != nil {
		return nil, err
	}
	return Load(dir)
}
