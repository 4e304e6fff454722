package charlm

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestValidationWindows checks the validation split of the default corpus as
// the benchmark specification fixes it: 886 windows of 65 bytes, 56,704 targets.
func TestValidationWindows(t *testing.T) {
	corpus, err := loadCorpus("")
	require.NoError(t, err)
	require.Equal(t, int(float64(corpus.Size)*0.9), len(corpus.Train))
	require.Equal(t, corpus.Size, len(corpus.Train)+len(corpus.Val))
	require.Equal(t, 886, corpus.NumValWindows(64))
	require.Equal(t, 56_704, 64*corpus.NumValWindows(64))

	windows, masks, err := corpus.ValWindows(64, 128)
	require.NoError(t, err)
	require.Len(t, windows, 7) // ceil(886/128)
	count := 0
	for i, w := range windows {
		require.Equal(t, []int{128, 65}, w.Shape().Dimensions)
		mask := flatFloat32(t, masks[i])
		data, _ := w.Value().([][]int32)
		for j, m := range mask {
			if m == 0 {
				continue
			}
			k := i*128 + j
			for p, b := range corpus.Val[64*k : 64*k+65] {
				require.Equal(t, int32(b), data[j][p], "window %d byte %d", k, p)
			}
			count++
		}
	}
	require.Equal(t, 886, count)
}

// TestBatches checks the training windows (in range, targets shifted by one),
// the determinism of a seed, and that a saved state resumes the same stream.
func TestBatches(t *testing.T) {
	data := make([]byte, 40) // Consecutive byte values: a window starting at v is v, v+1, ...
	for i := range data {
		data[i] = byte(i)
	}
	a, err := newBatches(data, 3, 5, 42)
	require.NoError(t, err)
	b, err := newBatches(data, 3, 5, 42)
	require.NoError(t, err)
	x, y := a.Next()
	xs, ys := x.Value().([][]int32), y.Value().([][]int32)
	for i := range xs {
		for j := range xs[i] {
			if j > 0 {
				require.Equal(t, xs[i][j], ys[i][j-1], "targets are inputs shifted by one")
			}
		}
		require.Equal(t, xs[i][0]+5, ys[i][4], "a window is 6 consecutive bytes of this corpus")
	}
	bx, _ := b.Next()
	require.Equal(t, x.Value(), bx.Value(), "same seed, same batches")

	state, err := a.State()
	require.NoError(t, err)
	require.EqualValues(t, 1, state.Drawn)
	want, _ := a.Next()
	c, err := newBatches(data, 3, 5, 7)
	require.NoError(t, err)
	require.NoError(t, c.SetState(state))
	got, _ := c.Next()
	require.Equal(t, want.Value(), got.Value(), "a restored state continues the stream")
	require.EqualValues(t, 2, c.Drawn())

	_, err = newBatches(data[:5], 3, 5, 1)
	require.Error(t, err)
}

func TestPortablePath(t *testing.T) {
	p, err := defaultCorpusPath()
	if err != nil {
		t.Skipf("no GOROOT corpus here: %v", err)
	}
	require.Equal(t, "$GOROOT/"+defaultCorpusName, PortablePath(p))
	require.Equal(t, "/elsewhere/text.txt", PortablePath("/elsewhere/text.txt"))
}
