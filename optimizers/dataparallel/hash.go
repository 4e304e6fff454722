package dataparallel

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"hash"
	"slices"

	"github.com/gomlx/gomlx/ml/model"
)

// WeightsHash returns the SHA-256, in hex, of all trainable variables of the
// store, in path order: for each, its path, shape and raw bytes. Ranks that
// hold the same weights, bit for bit, get the same hash; it is how a
// data-parallel job checks (and prints, as weights_hash=<hex>) that every
// worker ended with the same model.
//
// A variable without a value (not yet initialized, or finalized) enters the
// hash as its path and shape followed by a "no value" marker, so the hash is
// always defined.
func WeightsHash(store *model.Store) string {
	var vars []*model.Variable
	for v := range store.IterVariables() {
		if v.Trainable {
			vars = append(vars, v)
		}
	}
	slices.SortFunc(vars, func(a, b *model.Variable) int {
		switch {
		case a.Path() < b.Path():
			return -1
		case a.Path() > b.Path():
			return 1
		}
		return 0
	})
	h := sha256.New()
	for _, v := range vars {
		hashVariable(h, v)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func hashVariable(h hash.Hash, v *model.Variable) {
	writeString(h, v.Path())
	writeString(h, v.Shape().String())
	if !v.HasValue() {
		writeString(h, "<no value>")
		return
	}
	t, err := v.Value()
	if err == nil {
		err = t.ConstBytes(func(data []byte) {
			var n [8]byte
			binary.LittleEndian.PutUint64(n[:], uint64(len(data)))
			h.Write(n[:])
			h.Write(data)
		})
	}
	if err != nil {
		writeString(h, "<no value>")
	}
}

// writeString writes s with its length, so that concatenations can't collide.
func writeString(h hash.Hash, s string) {
	var n [8]byte
	binary.LittleEndian.PutUint64(n[:], uint64(len(s)))
	h.Write(n[:])
	h.Write([]byte(s))
}
