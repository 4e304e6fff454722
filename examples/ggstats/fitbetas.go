package main

import (
	"fmt"
	"io"

	"github.com/ggprior/ggprior/internal/fitbetas"
)

// runFitBetas fits the GG shape per charlm layer kind to the latest checkpoint
// in dir: it prints charlm's -beta value to stdout (one line, for scripts) and
// the fits per kind and tensor to stderr.
func runFitBetas(dir string, stdout, stderr io.Writer) error {
	r, err := fitbetas.FromCheckpoint(dir)
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "GG shape (maximum likelihood) per charlm layer kind, latest checkpoint in %s:\n%s", dir, r)
	_, err = fmt.Fprintln(stdout, r.Spec())
	return err
}
