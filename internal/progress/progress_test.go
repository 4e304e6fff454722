package progress

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestIsTerminal: buffers, pipes, regular files and nil are not terminals.
func TestIsTerminal(t *testing.T) {
	require.False(t, isTerminal(nil))
	require.False(t, isTerminal(&bytes.Buffer{}))
	require.False(t, isTerminal(io.Discard))
	var nilFile *os.File
	require.False(t, isTerminal(nilFile))
	r, w, err := os.Pipe()
	require.NoError(t, err)
	defer func() { _ = r.Close() }()
	defer func() { _ = w.Close() }()
	require.False(t, isTerminal(w))
	f, err := os.Create(filepath.Join(t.TempDir(), "log"))
	require.NoError(t, err)
	defer func() { _ = f.Close() }()
	require.False(t, isTerminal(f))
}

// quickstartLoop runs, writing to w, a loop shaped like the quickstart's
// training loop: a report at step 0 and every `every` steps (and at the
// last), and a step description at each step.
func quickstartLoop(w io.Writer, steps, every int) {
	bar := New(w, steps, "default ")
	defer bar.Finish()
	report := func(step int) {
		bar.Report(fmt.Sprintf("default  step %d/%d: val loss %.4f, acc %.1f%%", step, steps, 1/float64(step+1), 90.0))
	}
	report(0)
	for step := 1; step <= steps; step++ {
		if step%every == 0 || step == steps {
			report(step)
		}
		bar.Add(1, func() string { return fmt.Sprintf("default  step %d loss %.4f", step, 0.5) })
	}
}

// requirePlain checks that out is plain lines: no carriage return, no ANSI
// escape sequence, every line ended by a newline.
func requirePlain(t *testing.T, out string) {
	t.Helper()
	require.NotContains(t, out, "\r")
	require.NotContains(t, out, "\x1b")
	require.True(t, out == "" || strings.HasSuffix(out, "\n"), "unterminated line in %q", out)
}

// TestPlainLines: to a writer that is not a terminal (a bytes.Buffer and a
// pipe), a loop writes one plain line per report and nothing per step.
func TestPlainLines(t *testing.T) {
	var buf bytes.Buffer
	quickstartLoop(&buf, 600, 50)
	out := buf.String()
	requirePlain(t, out)
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	require.Len(t, lines, 13, "a line at step 0 and every 50 steps:\n%s", out)
	require.Equal(t, "default  step 0/600: val loss 1.0000, acc 90.0%", lines[0])
	require.Equal(t, "default  step 600/600: val loss 0.0017, acc 90.0%", lines[12])

	// The same through a pipe (an *os.File that is not a terminal), as with
	// `command 2>&1 | tee log`.
	r, w, err := os.Pipe()
	require.NoError(t, err)
	read := make(chan string)
	go func() {
		b, _ := io.ReadAll(r)
		read <- string(b)
	}()
	quickstartLoop(w, 600, 50)
	require.NoError(t, w.Close())
	require.Equal(t, out, <-read)
	require.NoError(t, r.Close())
}

// TestOutputSizeGrowsWithEvaluations: the log of a quickstart-like loop grows
// with its number of evaluations, not of steps: ten times the steps at the
// same number of evaluations writes (about) the same bytes.
func TestOutputSizeGrowsWithEvaluations(t *testing.T) {
	size := func(steps, every int) int {
		var buf bytes.Buffer
		quickstartLoop(&buf, steps, every)
		requirePlain(t, buf.String())
		return buf.Len()
	}
	short, long := size(600, 50), size(6000, 500)
	require.Less(t, long, short+13*4, "only the step numbers' digits may grow: %d vs %d bytes", long, short)
	require.Less(t, short, 13*64, "at most a short line per evaluation")
	require.Greater(t, size(600, 10), 4*short, "more evaluations, more lines")
}

// TestHeartbeat: in a log, a step writes its description only after a
// silence of the heartbeat's period, and reports and lines reset it.
func TestHeartbeat(t *testing.T) {
	var buf bytes.Buffer
	bar := New(&buf, 100, "x").Heartbeat(time.Minute)
	now := time.Unix(0, 0)
	bar.now = func() time.Time { return now }
	bar.lastLine = now
	calls := 0
	describe := func(step int) func() string {
		return func() string { calls++; return fmt.Sprintf("step %d", step) }
	}
	for step := 1; step <= 100; step++ {
		now = now.Add(10 * time.Second)
		switch step {
		case 30:
			bar.Report("evaluated at 30")
		case 50:
			bar.Println("a line at 50")
		}
		bar.Add(1, describe(step))
	}
	bar.Finish()
	require.Equal(t, "step 6\nstep 12\nstep 18\nstep 24\nevaluated at 30\nstep 36\nstep 42\nstep 48\n"+
		"a line at 50\nstep 56\nstep 62\nstep 68\nstep 74\nstep 80\nstep 86\nstep 92\nstep 98\n", buf.String())
	require.Equal(t, 15, calls, "describe is called only when its line is due")

	// Without a heartbeat, steps write nothing and describe is not called.
	buf.Reset()
	calls = 0
	bar = New(&buf, 100, "x")
	for step := 1; step <= 100; step++ {
		bar.Add(1, describe(step))
	}
	require.Empty(t, buf.String())
	require.Zero(t, calls)
}

// TestFinish: after Finish, Add and Report write nothing, Println still
// writes; Finish may be called twice; a nil writer discards everything.
func TestFinish(t *testing.T) {
	var buf bytes.Buffer
	bar := New(&buf, 10, "x").Heartbeat(time.Nanosecond)
	require.False(t, bar.Terminal())
	bar.Finish()
	bar.Finish()
	bar.Report("report")
	bar.Add(1, func() string { return "step" })
	bar.Printf("line %d", 1)
	require.Equal(t, "line 1\n", buf.String())

	bar = New(nil, 10, "x")
	bar.Report("report")
	bar.Println("line")
	bar.Finish()
}
