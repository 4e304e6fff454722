package study

import (
	"github.com/ggprior/ggprior/internal/pngtest"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestXYPlot(t *testing.T) {
	dir := t.TempDir()
	p := &XYPlot{
		Title: "loss vs bits", XLabel: "bits per element", YLabel: "loss", LogX: true,
		Series: []XYSeries{
			{Name: "gct", Points: [][2]float64{{1.5, 2.1}, {2, 2.0}, {3, 1.95}}, Labels: []string{"1.5", "2", "3"}},
			{Name: "sign", Points: [][2]float64{{1, 2.4}}},
		},
		HLines: []HLine{{Name: "uncompressed", Y: 1.9}},
	}
	path := filepath.Join(dir, "xy.png")
	require.NoError(t, p.Save(path))
	pngtest.Require(t, path)

	p.Series = append(p.Series, XYSeries{Name: "bad", Points: [][2]float64{{0, 1}}})
	require.ErrorContains(t, p.Save(path), "log axis")
	require.ErrorContains(t, (&XYPlot{Title: "empty"}).Save(path), "no points")
}

func TestWriteLossPlot(t *testing.T) {
	dir := t.TempDir()
	for seed := int64(1); seed <= 2; seed++ {
		writeResults(t, dir, "base", seed, 2, 0)
	}
	ld, err := LoadDir(dir)
	require.NoError(t, err)
	s, err := Aggregate(dir, ld, AggregateOptions{Baseline: "base"})
	require.NoError(t, err)
	path := filepath.Join(dir, "curves.png")
	require.NoError(t, WriteLossPlot(path, s, "curves"))
	pngtest.Require(t, path)
}
