package main

import (
	"encoding/json"
	"io"

	"github.com/ggprior/ggprior/examples/study"
)

// writeJSON writes the study's summary as indented JSON.
func writeJSON(w io.Writer, s *study.Summary) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(s)
}
