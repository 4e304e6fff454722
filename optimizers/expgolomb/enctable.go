package expgolomb

import "sync"

const (
	// encTableRadius: values in [-encTableRadius, encTableRadius) are coded from encTables.
	encTableRadius = 128

	// encPairMaxK is the largest order with a table coding pairs of values, encPairTables.
	encPairMaxK = 3

	// encPairRadius: pairs of values in [-encPairRadius, encPairRadius) are coded from
	// encPairTables. Each such code takes at most 2*6-1+encPairMaxK = 14 bits.
	encPairRadius = 16
)

// Coding tables, built by buildEncTables on first use (about 90 KiB in all). Entries hold
// v<<8 | l: the code is v right-aligned in l bits.
var (
	encTablesOnce sync.Once

	// encTables[k][q+encTableRadius] is the code of q for order k: v = MapSigned(q) + 2^k.
	encTables [MaxK + 1][2 * encTableRadius]uint64

	// encPairTables[k][(a+encPairRadius)*2*encPairRadius + b+encPairRadius] holds the codes of
	// a then b, concatenated, for order k.
	encPairTables [encPairMaxK + 1][4 * encPairRadius * encPairRadius]uint64
)

// buildEncTables fills encTables and encPairTables.
func buildEncTables() {
	code := func(q int32, k int) (v uint64, l uint) {
		u := MapSigned(q)
		return u + uint64(1)<<k, uint(codeLen(u, uint(k)))
	}
	for k := range encTables {
		for i := range encTables[k] {
			v, l := code(int32(i-encTableRadius), k)
			encTables[k][i] = v<<8 | uint64(l)
		}
	}
	for k := range encPairTables {
		for i := range encPairTables[k] {
			va, la := code(int32(i/(2*encPairRadius)-encPairRadius), k)
			vb, lb := code(int32(i%(2*encPairRadius)-encPairRadius), k)
			encPairTables[k][i] = (va<<lb|vb)<<8 | uint64(la+lb)
		}
	}
}
