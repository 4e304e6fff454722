package charlm

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// plainProgressPeriod is how often a non-terminal writer gets a progress line.
const plainProgressPeriod = 15 * time.Second

// progressBar shows the training progress with the loss and the step time: an
// animated bar on a terminal, a line every plainProgressPeriod otherwise (logs).
type progressBar struct {
	w         io.Writer
	bar       *progressbar.ProgressBar // nil when w is not a terminal.
	to        int
	lastPrint time.Time
}

// newProgressBar starts a bar for steps [from, to) of a run of total steps.
func newProgressBar(w io.Writer, from, to, total int) *progressBar {
	p := &progressBar{w: w, to: to, lastPrint: time.Now()}
	if f, ok := w.(*os.File); !ok || !term.IsTerminal(int(f.Fd())) {
		return p
	}
	p.bar = progressbar.NewOptions(to-from,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription(fmt.Sprintf("steps %d-%d of %d", from+1, to, total)),
		progressbar.OptionShowCount(),
		progressbar.OptionShowIts(),
		progressbar.OptionSetItsString("steps"),
		progressbar.OptionSetWidth(20),
		progressbar.OptionThrottle(250*time.Millisecond),
		progressbar.OptionClearOnFinish(),
	)
	return p
}

// update advances the bar by one step and shows its loss, and `extra` (e.g.
// the gradient bits) if not empty.
func (p *progressBar) update(info StepInfo, median time.Duration, extra string) {
	desc := fmt.Sprintf("step %d loss %.4f |g| %.3f", info.Step, info.MainLoss, info.GradNorm)
	if extra != "" {
		desc += " " + extra
	}
	desc += fmt.Sprintf(" %s/step", median.Round(100*time.Microsecond))
	if p.bar == nil {
		if time.Since(p.lastPrint) >= plainProgressPeriod || info.Step == p.to {
			_, _ = fmt.Fprintln(p.w, desc)
			p.lastPrint = time.Now()
		}
		return
	}
	p.bar.Describe(desc)
	_ = p.bar.Add(1)
}

// println prints a line above the bar.
func (p *progressBar) println(line string) {
	if p.bar != nil {
		_ = p.bar.Clear()
	}
	_, _ = fmt.Fprintln(p.w, line)
}

// finish closes the bar.
func (p *progressBar) finish() {
	if p.bar != nil {
		_ = p.bar.Finish()
		_ = p.bar.Exit()
	}
}
