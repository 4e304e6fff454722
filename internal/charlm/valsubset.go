package charlm

import (
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/pkg/errors"
)

// valSubset returns the indices of the validation windows evaluated when a
// run measures its validation loss on `want` of the `total` windows (see
// TrainConfig.ValWindows): all of them (nil) if want <= 0 or want >= total,
// otherwise want indices evenly spaced over [0, total), index i being
// floor(i*total/want). The subset depends only on want and total: every run
// with the same ValWindows and block size is measured on the same windows.
func valSubset(total, want int) []int {
	if want <= 0 || want >= total {
		return nil
	}
	indices := make([]int, want)
	for i := range indices {
		indices[i] = i * total / want
	}
	return indices
}

// ValWindowsAt is Corpus.ValWindows for the windows at the given indices
// (ascending, each in [0, NumValWindows(block))); nil indices means every
// window. The windows are packed in batches of `batch`, the last one padded
// with zero windows whose mask is 0.
func (c *Corpus) ValWindowsAt(block, batch int, indices []int) (windows, masks []*tensors.Tensor, err error) {
	n := c.NumValWindows(block)
	if n == 0 {
		return nil, nil, errors.Errorf("the validation split (%d bytes) is shorter than one window of %d bytes",
			len(c.Val), block+1)
	}
	if indices == nil {
		indices = make([]int, n)
		for k := range indices {
			indices[k] = k
		}
	}
	for _, k := range indices {
		if k < 0 || k >= n {
			return nil, nil, errors.Errorf("validation window %d out of range: the split holds %d windows of %d bytes", k, n, block+1)
		}
	}
	for start := 0; start < len(indices); start += batch {
		data := make([]int32, batch*(block+1))
		mask := make([]float32, batch)
		for i, k := range indices[start:min(start+batch, len(indices))] {
			mask[i] = 1
			for j, b := range c.Val[k*block : k*block+block+1] {
				data[i*(block+1)+j] = int32(b)
			}
		}
		windows = append(windows, tensors.FromFlatDataAndDimensions(data, batch, block+1))
		masks = append(masks, tensors.FromFlatDataAndDimensions(mask, batch))
	}
	return windows, masks, nil
}

// NumValWindowsEvaluated returns the number of validation windows the run
// measures its validation loss on: Train.ValWindows of them if set and
// smaller than the split's, otherwise all (Corpus.NumValWindows).
func (e *Experiment) NumValWindowsEvaluated() int {
	total := e.Corpus.NumValWindows(e.Config.Block)
	if idx := valSubset(total, e.Train.ValWindows); idx != nil {
		return len(idx)
	}
	return total
}
