package ggx

import (
	"math/rand/v2"
	"slices"
	"sort"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestMedian checks sampleMedian and selectKth against sorting, on odd and even
// counts, with many duplicates, and sorted and reversed input.
func TestMedian(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 5))
	for _, n := range []int{1, 2, 3, 4, 5, 10, 11, 100, 1001, 4096} {
		for _, kind := range []string{"random", "duplicates", "sorted", "reversed"} {
			xs := make([]float64, n)
			for i := range xs {
				switch kind {
				case "random":
					xs[i] = r.NormFloat64()
				case "duplicates":
					xs[i] = float64(r.IntN(3))
				case "sorted":
					xs[i] = float64(i)
				case "reversed":
					xs[i] = float64(n - i)
				}
			}
			s := slices.Clone(xs)
			sort.Float64s(s)
			want := s[n/2]
			if n%2 == 0 {
				want = (s[n/2-1] + s[n/2]) / 2
			}
			require.Equal(t, want, sampleMedian(xs), "n=%d %s", n, kind)
			require.Equal(t, want, sortedMedian(s), "n=%d %s", n, kind)
			for _, k := range []int{0, n / 3, n / 2, n - 1} {
				a := slices.Clone(xs)
				require.Equal(t, s[k], selectKth(a, k), "n=%d %s k=%d", n, kind, k)
				for i := range a {
					if i < k {
						require.LessOrEqual(t, a[i], a[k])
					} else {
						require.GreaterOrEqual(t, a[i], a[k])
					}
				}
			}
		}
	}
}
