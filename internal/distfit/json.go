package distfit

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/ggprior/ggprior/ggx"
)

// Skip records a tensor that was not analyzed, and why.
type Skip struct {
	Name   string `json:"name"`
	Reason string `json:"reason"`
}

// Result is everything one run of the GG evidence tool produced: what was read,
// with which options, a report per analyzed tensor, the tensors skipped and the
// summary. WriteJSON and ReadJSON store it.
type Result struct {
	// Source describes where the tensors came from, e.g. "safetensors model.safetensors".
	Source string `json:"source"`
	// Options used for the distfit.
	Options Options `json:"options"`
	// Reports holds one report per analyzed tensor, in the order analyzed.
	Reports []TensorReport `json:"reports"`
	// Skipped lists the tensors not analyzed.
	Skipped []Skip `json:"skipped,omitempty"`
	// Summary of the reports (see Summarize).
	Summary Summary `json:"summary"`
}

// WriteJSON writes result to w as indented JSON. Distributions are written as
// objects {"mu", "alpha", "beta", "std"}.
func WriteJSON(w io.Writer, result Result) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(result); err != nil {
		return fmt.Errorf("analysis: writing JSON: %w", err)
	}
	return nil
}

// ReadJSON reads a Result written by WriteJSON.
func ReadJSON(r io.Reader) (Result, error) {
	var result Result
	if err := json.NewDecoder(r).Decode(&result); err != nil {
		return Result{}, fmt.Errorf("analysis: reading JSON: %w", err)
	}
	return result, nil
}

// distJSON is the JSON form of a ggx.Dist. StdDev is informative (it is derived
// from Alpha and Beta) and ignored when reading.
type distJSON struct {
	Mu     float64 `json:"mu"`
	Alpha  float64 `json:"alpha"`
	Beta   float64 `json:"beta"`
	StdDev float64 `json:"std"`
}

func toDistJSON(d ggx.Dist) distJSON {
	return distJSON{Mu: d.Mu, Alpha: d.Alpha, Beta: d.Beta, StdDev: d.StdDev()}
}

func (d distJSON) dist() ggx.Dist { return ggx.Dist{Mu: d.Mu, Alpha: d.Alpha, Beta: d.Beta} }

// reportAlias has TensorReport's fields without its methods.
type reportAlias TensorReport

// reportJSON is the JSON form of a TensorReport: its own fields plus the four
// distributions.
type reportJSON struct {
	reportAlias
	Moment    distJSON `json:"moment"`
	MLE       distJSON `json:"mle"`
	Gaussian  distJSON `json:"gaussian"`
	Laplacian distJSON `json:"laplacian"`
}

// MarshalJSON implements json.Marshaler: the fitted distributions are written as
// {"mu", "alpha", "beta", "std"} objects under "moment", "mle", "gaussian" and
// "laplacian".
func (r TensorReport) MarshalJSON() ([]byte, error) {
	return json.Marshal(reportJSON{
		reportAlias: reportAlias(r),
		Moment:      toDistJSON(r.Moment),
		MLE:         toDistJSON(r.MLE),
		Gaussian:    toDistJSON(r.Gaussian),
		Laplacian:   toDistJSON(r.Laplacian),
	})
}

// UnmarshalJSON implements json.Unmarshaler, reading what MarshalJSON writes.
func (r *TensorReport) UnmarshalJSON(data []byte) error {
	var js reportJSON
	if err := json.Unmarshal(data, &js); err != nil {
		return err
	}
	*r = TensorReport(js.reportAlias)
	r.Moment, r.MLE, r.Gaussian, r.Laplacian = js.Moment.dist(), js.MLE.dist(), js.Gaussian.dist(), js.Laplacian.dist()
	return nil
}
