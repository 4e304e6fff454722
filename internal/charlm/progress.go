package charlm

import (
	"fmt"
	"io"
	"time"

	"github.com/ggprior/ggprior/internal/progress"
)

// progressBar shows the training progress with the loss and the step time
// (progress.Bar): an animated bar on a terminal; in a log, the evaluation
// lines, and the current step's line after progress.DefaultHeartbeat of
// silence (evaluations can be far apart).
type progressBar struct {
	bar *progress.Bar
}

// newProgressBar starts a bar for steps [from, to) of a run of total steps.
func newProgressBar(w io.Writer, from, to, total int) *progressBar {
	bar := progress.New(w, to-from, fmt.Sprintf("steps %d-%d of %d", from+1, to, total)).Heartbeat(progress.DefaultHeartbeat)
	return &progressBar{bar: bar}
}

// update advances the bar by one step and shows its loss, and `extra` (e.g.
// the gradient bits) if not empty.
func (p *progressBar) update(info StepInfo, median time.Duration, extra string) {
	p.bar.Add(1, func() string {
		desc := fmt.Sprintf("step %d loss %.4f |g| %.3f", info.Step, info.MainLoss, info.GradNorm)
		if extra != "" {
			desc += " " + extra
		}
		return desc + fmt.Sprintf(" %s/step", median.Round(100*time.Microsecond))
	})
}

// println prints a line (above the bar on a terminal).
func (p *progressBar) println(line string) {
	p.bar.Println(line)
}

// finish closes the bar.
func (p *progressBar) finish() {
	p.bar.Finish()
}
