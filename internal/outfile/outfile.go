// Package outfile writes the output files of ggprior's commands whole, and
// checks before the work that produces them that they can be written.
package outfile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// WriteFile writes data to the file at path whole: into a temporary file in
// the same directory, synced to disk, then renamed over path. A reader of
// path sees the previous file or the new one, never part of one, and a
// failed write leaves the previous file (if any) and no temporary file. The
// file gets the permissions perm.
func WriteFile(path string, data []byte, perm fs.FileMode) error {
	return Write(path, perm, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// Write is WriteFile with the content that fn writes to w.
func Write(path string, perm fs.FileMode, fn func(w io.Writer) error) (err error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return pathError("write", path, err)
	}
	closed := false
	defer func() {
		if err != nil {
			if !closed {
				_ = tmp.Close()
			}
			_ = os.Remove(tmp.Name())
		}
	}()
	if err = fn(tmp); err != nil {
		return err
	}
	if err = tmp.Chmod(perm); err != nil { // CreateTemp makes it 0600.
		return pathError("write", path, err)
	}
	if err = tmp.Sync(); err != nil {
		return pathError("write", path, err)
	}
	closed = true
	if err = tmp.Close(); err != nil {
		return pathError("write", path, err)
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return pathError("write", path, err)
	}
	syncDir(dir)
	return nil
}

// syncDir syncs the directory dir, so that a rename in it is on disk; where
// directories cannot be synced (some systems and file systems), it does nothing.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
}

// CheckFile checks that a file can be written at path: path is not a
// directory, its directory exists, and a file can be created in it (CheckFile
// creates one and removes it). Call it before the work whose output goes to
// path, so that an output that cannot be written is found before the work,
// not after it.
func CheckFile(path string) error {
	if info, err := os.Stat(path); err == nil && info.IsDir() {
		return fmt.Errorf("cannot write %s: it is a directory", path)
	}
	dir := filepath.Dir(path)
	info, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("cannot write %s: directory %s does not exist", path, dir)
	case err != nil:
		return pathError("write", path, err)
	case !info.IsDir():
		return fmt.Errorf("cannot write %s: %s is not a directory", path, dir)
	}
	if err := probe(dir); err != nil {
		return pathError("write", path, err)
	}
	return nil
}

// CheckDir checks that files can be written into the directory dir: if it
// exists, by creating a file in it; if not, by creating one in its nearest
// existing ancestor, where dir would be created. The file is removed at once,
// and CheckDir creates no directory. Call it before the work whose output
// goes into dir.
func CheckDir(dir string) error {
	for parent := dir; ; {
		info, err := os.Stat(parent)
		switch {
		case err == nil && !info.IsDir():
			if parent == dir {
				return fmt.Errorf("cannot write into %s: it is not a directory", dir)
			}
			return fmt.Errorf("cannot create directory %s: %s is not a directory", dir, parent)
		case err == nil:
			if err := probe(parent); err != nil {
				if parent == dir {
					return pathError("write into", dir, err)
				}
				return pathError("create directory", dir, err)
			}
			return nil
		case !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, syscall.ENOTDIR):
			return pathError("write into", dir, err)
		}
		up := filepath.Dir(parent)
		if up == parent {
			return fmt.Errorf("cannot write into %s: no part of the path exists", dir)
		}
		parent = up
	}
}

// probe creates a file in dir and removes it.
func probe(dir string) error {
	f, err := os.CreateTemp(dir, ".outfile-probe-*")
	if err != nil {
		return err
	}
	name := f.Name()
	err = f.Close()
	if rmErr := os.Remove(name); err == nil {
		err = rmErr
	}
	return err
}

// pathError returns err as an *fs.PathError of op on path, keeping only the
// cause of an *fs.PathError or *os.LinkError (whose paths are a temporary
// file's).
func pathError(op, path string, err error) error {
	if pe, ok := errors.AsType[*fs.PathError](err); ok {
		err = pe.Err
	} else if le, ok := errors.AsType[*os.LinkError](err); ok {
		err = le.Err
	}
	return &fs.PathError{Op: op, Path: path, Err: err}
}
