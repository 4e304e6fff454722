package charlm

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestProgressBarLog: to a writer that is not a terminal, training steps
// write nothing (a heartbeat only after minutes of silence) and the
// evaluation lines are written as they are.
func TestProgressBarLog(t *testing.T) {
	var buf bytes.Buffer
	bar := newProgressBar(&buf, 0, 1000, 1000)
	for step := 1; step <= 1000; step++ {
		bar.update(StepInfo{Step: step, MainLoss: 2, GradNorm: 1}, time.Millisecond, "gbits 3.0")
		if step%250 == 0 {
			bar.println("step xxx: val_loss 1.0")
		}
	}
	bar.finish()
	require.Equal(t, strings.Repeat("step xxx: val_loss 1.0\n", 4), buf.String())
}
