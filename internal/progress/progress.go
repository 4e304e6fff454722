// Package progress shows the progress of a loop (training steps, say): an
// animated bar when the output is a terminal, plain lines otherwise.
//
// A log (a redirected stderr, a pipe, a buffer) gets no bar, no carriage
// returns and no ANSI sequences: only the lines the loop reports (one per
// evaluation, typically), plus, when configured, a heartbeat line after a long
// silence. Its size thus grows with the number of reports, not of steps.
//
// Every command of this module shows its progress with a Bar, so the
// terminal detection and the bar-or-line choice live here only.
package progress

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// throttle is the minimum time between two redraws of a bar.
const throttle = 250 * time.Millisecond

// DefaultHeartbeat is the Heartbeat of this module's training loops: in a
// log, a silence of more than a few minutes gets a line, so that a run with
// far-apart evaluations still shows it is alive, at a cost of at most a line
// per DefaultHeartbeat.
const DefaultHeartbeat = 5 * time.Minute

// barWidth is the width, in characters, of the bar itself.
const barWidth = 20

// isTerminal reports whether w is a terminal: an *os.File open on a terminal
// device. Anything else (a regular file, a pipe, a bytes.Buffer, nil) is not.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && f != nil && term.IsTerminal(int(f.Fd()))
}

// Bar shows the progress of a loop of a known number of steps.
//
// On a terminal it is an animated bar (redrawn at most every 250ms) with a
// description, the step count and the step rate; lines printed with Println
// appear above it, and Report changes its description.
//
// Otherwise it writes plain lines only: one per Println and one per Report
// (so reports are what a log keeps: evaluations, say), and, if a Heartbeat is
// set, the description of the current step (see Add) when nothing was
// written for that long. Steps alone write nothing.
//
// A Bar is not safe for concurrent use.
type Bar struct {
	w   io.Writer
	bar *progressbar.ProgressBar // nil when w is not a terminal.

	heartbeat time.Duration
	lastLine  time.Time
	now       func() time.Time // time.Now; replaced by tests.
	finished  bool
}

// New returns a Bar for a loop of total steps writing to w, shown with the
// given description. A nil w is a writer that discards everything.
//
// Call Finish when the loop ends, so that a terminal's bar is cleared.
func New(w io.Writer, total int, description string) *Bar {
	if w == nil {
		w = io.Discard
	}
	b := &Bar{w: w, now: time.Now}
	b.lastLine = b.now()
	if isTerminal(w) {
		b.bar = progressbar.NewOptions(total,
			progressbar.OptionSetWriter(w),
			progressbar.OptionSetDescription(description),
			progressbar.OptionShowCount(),
			progressbar.OptionShowIts(),
			progressbar.OptionSetItsString("steps"),
			progressbar.OptionSetWidth(barWidth),
			progressbar.OptionThrottle(throttle),
			progressbar.OptionClearOnFinish(),
		)
	}
	return b
}

// Heartbeat makes a Bar that is not on a terminal write the description of
// the current step (see Add) when nothing was written for period, so that a
// log of a loop with far-apart reports still shows it is alive. Zero (the
// default) disables it. It has no effect on a terminal. It returns b.
func (b *Bar) Heartbeat(period time.Duration) *Bar {
	b.heartbeat = period
	return b
}

// Terminal reports whether b draws a bar (its writer is a terminal).
func (b *Bar) Terminal() bool {
	return b.bar != nil
}

// Add advances the bar by n steps. describe, if not nil, returns the
// description of the current step (e.g. its loss): it becomes the bar's
// description on a terminal; otherwise it is called only when a heartbeat
// line is due, and that line is its result.
func (b *Bar) Add(n int, describe func() string) {
	if b.finished {
		return
	}
	if b.bar != nil {
		if describe != nil {
			b.bar.Describe(describe())
		}
		_ = b.bar.Add(n)
		return
	}
	if describe != nil && b.heartbeat > 0 && b.now().Sub(b.lastLine) >= b.heartbeat {
		b.writeLine(describe())
	}
}

// Report reports a milestone of the loop (an evaluation, say): on a terminal
// it becomes the bar's description; otherwise it is written as a line.
func (b *Bar) Report(line string) {
	if b.finished {
		return
	}
	if b.bar != nil {
		b.bar.Describe(line)
		return
	}
	b.writeLine(line)
}

// Println writes line, above the bar on a terminal (the bar is redrawn at
// its next step), after Finish as well.
func (b *Bar) Println(line string) {
	if b.bar != nil && !b.finished {
		_ = b.bar.Clear()
	}
	b.writeLine(line)
}

// Printf is Println with a formatted line.
func (b *Bar) Printf(format string, args ...any) {
	b.Println(fmt.Sprintf(format, args...))
}

// Finish ends the bar: on a terminal it clears it (the lines printed above
// it stay). Later calls to Add and Report show nothing; Println still writes
// its line. Finishing again does nothing (so a deferred Finish may follow an
// explicit one).
func (b *Bar) Finish() {
	if b.finished {
		return
	}
	b.finished = true
	if b.bar != nil {
		_ = b.bar.Finish()
		_ = b.bar.Exit()
	}
}

// writeLine writes line and a newline, and notes the time for the heartbeat.
func (b *Bar) writeLine(line string) {
	_, _ = fmt.Fprintln(b.w, line)
	b.lastLine = b.now()
}
