package main

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/ggprior/ggprior/internal/codedsize"
	"github.com/ggprior/ggprior/internal/outfile"
)

// runCodedSize prints the coded size of the weights of the latest checkpoint in
// dir (codedsize.Checkpoint) as a table to stdout and, if jsonPath is set,
// writes the report as JSON there.
func runCodedSize(dir, jsonPath string, stdout, stderr io.Writer) error {
	r, err := codedsize.Checkpoint(dir)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: %d weight tensors, %d weights\n\n", r.Source, len(r.Tensors), r.Params)
	if err := r.WriteTable(stdout); err != nil {
		return err
	}
	if jsonPath == "" {
		return nil
	}
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("-json: %w", err)
	}
	if err := outfile.WriteFile(jsonPath, append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("-json: %w", err)
	}
	fmt.Fprintf(stderr, "JSON written to %s\n", jsonPath)
	return nil
}
