package expgolomb

import (
	"math/bits"
	"sync"
)

const (
	// decTableBits is the number of bits looked up at once by the table decoder.
	decTableBits = 10

	// decTableValues is the most values one table step decodes.
	decTableValues = 4

	// decTableMaxK is the largest order with a decoding table: from k = 4 on, codes take at
	// least 5 bits and a table step rarely decodes more than one.
	decTableMaxK = 3

	// decGroupSteps is the number of table steps per 64-bit window, which holds at least 57
	// valid bits: decGroupSteps*decTableBits must not exceed 57.
	decGroupSteps = 5

	// decGroupValues is the most values a group of table steps writes.
	decGroupValues = decGroupSteps * decTableValues
)

// decTable decodes, for one order k, all the codes that fit entirely in the next decTableBits
// bits of a stream (at most decTableValues of them), indexed by those bits.
type decTable struct {
	// meta holds count<<4 | bits: the number of codes decoded and the bits they take;
	// zero if the first code is longer than decTableBits.
	meta [1 << decTableBits]uint8

	// vals holds the decoded values, padded with zeros.
	vals [1 << decTableBits][decTableValues]int32
}

// decTables holds the decoding table of each order up to decTableMaxK (17 KiB each), built by
// buildDecTables on first use.
var (
	decTables     [decTableMaxK + 1]decTable
	decTablesOnce sync.Once
)

func buildDecTables() {
	for k := range decTables {
		decTables[k].fill(uint(k))
	}
}

// fill builds the decoding table of order k.
func (t *decTable) fill(k uint) {
	for idx := range t.meta {
		w := uint64(idx) << (64 - decTableBits)
		used, count := uint(0), 0
		for count < decTableValues {
			l := 2*uint(bits.LeadingZeros64(w<<used)) + k + 1 // 64 zeros gives l > decTableBits.
			if used+l > decTableBits {
				break
			}
			v := w << used >> (64 - l)
			t.vals[idx][count] = unmap(v - uint64(1)<<k)
			used += l
			count++
		}
		t.meta[idx] = uint8(count<<4 | int(used))
	}
}
