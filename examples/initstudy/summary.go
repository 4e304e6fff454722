package main

import (
	"encoding/json"
	"io"
)

// writeJSON writes the study's summary as indented JSON.
func writeJSON(w io.Writer, s *studySummary) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(s)
}
