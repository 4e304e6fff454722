package ggx

import (
	"math"
	"sort"
)

// sampleMedian returns the median of xs (the mean of the two middle values for an
// even count) without modifying xs: quickselect on a copy.
func sampleMedian(xs []float64) float64 {
	a := append([]float64(nil), xs...)
	k := len(a) / 2
	upper := selectKth(a, k)
	if len(a)%2 == 1 {
		return upper
	}
	// After selection every value left of k is <= a[k]: the lower middle value is
	// their maximum.
	lower := a[0]
	for _, x := range a[1:k] {
		lower = math.Max(lower, x)
	}
	return lower + (upper-lower)/2
}

// sortedMedian returns the median of sorted values.
func sortedMedian(s []float64) float64 {
	k := len(s) / 2
	if len(s)%2 == 1 {
		return s[k]
	}
	return s[k-1] + (s[k]-s[k-1])/2
}

// selectKth partially sorts a so that a[k] is the value it would hold if a were
// sorted, values before it are <= a[k] and values after >= a[k]; it returns a[k].
// Quickselect with median-of-three pivots, falling back to a full sort of the
// remaining range after 2*log2(n)+8 rounds, so the worst case is O(n log n).
// a must not contain NaN.
func selectKth(a []float64, k int) float64 {
	lo, hi := 0, len(a)-1
	budget := 8
	for n := len(a); n > 0; n >>= 1 {
		budget += 2
	}
	for hi > lo {
		if budget == 0 {
			sort.Float64s(a[lo : hi+1])
			break
		}
		budget--
		mid := lo + (hi-lo)/2
		// Median of three into a[mid].
		if a[mid] < a[lo] {
			a[mid], a[lo] = a[lo], a[mid]
		}
		if a[hi] < a[lo] {
			a[hi], a[lo] = a[lo], a[hi]
		}
		if a[hi] < a[mid] {
			a[hi], a[mid] = a[mid], a[hi]
		}
		pivot := a[mid]
		// Hoare partition.
		i, j := lo, hi
		for i <= j {
			for a[i] < pivot {
				i++
			}
			for a[j] > pivot {
				j--
			}
			if i <= j {
				a[i], a[j] = a[j], a[i]
				i++
				j--
			}
		}
		// Now a[lo..j] <= pivot <= a[i..hi], and a[j+1..i-1] == pivot.
		switch {
		case k <= j:
			hi = j
		case k >= i:
			lo = i
		default:
			return a[k]
		}
	}
	return a[k]
}
