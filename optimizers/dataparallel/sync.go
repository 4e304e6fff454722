package dataparallel

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"slices"
	"strings"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
)

// Weights message, rank 0 to all (little-endian):
//
//	"GGDW", then per trainable variable in path order: path length (uint32),
//	path, dtype (1 byte), byte length (uint64), raw bytes; then the CRC-32C of
//	all the preceding bytes.
const weightsMagic = "GGDW"

// trainableByPath returns the store's trainable variables sorted by path.
func trainableByPath(store *model.Store) []*model.Variable {
	var vars []*model.Variable
	for v := range store.IterVariables() {
		if v.Trainable {
			vars = append(vars, v)
		}
	}
	slices.SortFunc(vars, func(a, b *model.Variable) int { return strings.Compare(a.Path(), b.Path()) })
	return vars
}

// broadcastWeights makes every rank's trainable variables equal to rank 0's
// (a collective: an all-gather where only rank 0 sends).
func (t *Trainer) broadcastWeights() error {
	vars := trainableByPath(t.cfg.store)
	var payload []byte
	if t.rank == 0 {
		payload = []byte(weightsMagic)
		for _, v := range vars {
			value, err := v.Value()
			if err != nil {
				return fmt.Errorf("dataparallel: rank 0: reading %q to broadcast it: %w", v.Path(), err)
			}
			payload = binary.LittleEndian.AppendUint32(payload, uint32(len(v.Path())))
			payload = append(payload, v.Path()...)
			payload = append(payload, byte(value.DType()))
			payload = binary.LittleEndian.AppendUint64(payload, uint64(value.ByteSize()))
			err = value.ConstBytes(func(data []byte) { payload = append(payload, data...) })
			if err != nil {
				return fmt.Errorf("dataparallel: rank 0: reading %q to broadcast it: %w", v.Path(), err)
			}
		}
		payload = binary.LittleEndian.AppendUint32(payload, crc32.Checksum(payload, castagnoli))
	}
	all, err := t.cfg.comm.AllGather(payload)
	if err != nil {
		return fmt.Errorf("dataparallel: rank %d: broadcasting the initial weights: %w", t.rank, err)
	}
	if t.rank == 0 {
		return nil
	}
	return t.setWeights(vars, all[0])
}

// setWeights checks rank 0's weights message and sets the variables from it.
func (t *Trainer) setWeights(vars []*model.Variable, msg []byte) error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: initial weights from rank 0, received by rank %d: %s", ErrCorrupt, t.rank, fmt.Sprintf(format, args...))
	}
	if len(msg) < len(weightsMagic)+4 || string(msg[:4]) != weightsMagic {
		return bad("bad header (%d bytes)", len(msg))
	}
	body := msg[:len(msg)-4]
	if got, want := crc32.Checksum(body, castagnoli), binary.LittleEndian.Uint32(msg[len(body):]); got != want {
		return bad("CRC-32C is %#08x, its trailer says %#08x", got, want)
	}
	pos := len(weightsMagic)
	values := make([]*tensors.Tensor, len(vars))
	defer func() { finalizeAll(values) }() // Only what is left on error.
	for i, v := range vars {
		if len(body)-pos < 4 {
			return fmt.Errorf("%w: rank 0 has fewer trainable variables than rank %d (%d): first missing %q", ErrMismatch, t.rank, len(vars), v.Path())
		}
		n := int(binary.LittleEndian.Uint32(body[pos:]))
		pos += 4
		if len(body)-pos < n+9 {
			return bad("truncated at variable %d", i)
		}
		path := string(body[pos : pos+n])
		pos += n
		dtype := dtypes.DType(body[pos])
		size := binary.LittleEndian.Uint64(body[pos+1:])
		pos += 9
		shape := v.Shape()
		if path != v.Path() || dtype != shape.DType || size != uint64(shape.ByteSize()) {
			return fmt.Errorf("%w: rank 0's trainable variable %d is %q (%s, %d bytes), rank %d's is %q (%s)",
				ErrMismatch, i, path, dtype, size, t.rank, v.Path(), shape)
		}
		if uint64(len(body)-pos) < size {
			return bad("truncated in variable %q", path)
		}
		value, err := tensors.FromRaw(t.cfg.backend, 0, shape, body[pos:pos+int(size)])
		if err != nil {
			return fmt.Errorf("dataparallel: rank %d: setting %q from rank 0: %w", t.rank, path, err)
		}
		values[i] = value
		pos += int(size)
	}
	if pos != len(body) {
		return fmt.Errorf("%w: rank 0 has more trainable variables than rank %d (%d)", ErrMismatch, t.rank, len(vars))
	}
	for i, v := range vars {
		if err := v.SetValue(values[i]); err != nil {
			return fmt.Errorf("dataparallel: rank %d: setting %q from rank 0: %w", t.rank, v.Path(), err)
		}
		values[i] = nil
	}
	return nil
}

// Verify compares the ranks' WeightsHash (a collective: every rank must call
// it at the same point, between steps). It returns an error wrapping
// ErrMismatch, naming the ranks that differ from rank 0, if they are not all
// equal. Step calls it every VerifyEvery steps.
func (t *Trainer) Verify() error {
	hash := WeightsHash(t.cfg.store)
	all, err := t.cfg.comm.AllGather([]byte(hash))
	if err != nil {
		return fmt.Errorf("dataparallel: rank %d: verifying the weights: %w", t.rank, err)
	}
	var differ []int
	for r, h := range all {
		if string(h) != string(all[0]) {
			differ = append(differ, r)
		}
	}
	if len(differ) > 0 {
		return fmt.Errorf("%w: after step %d, rank(s) %v hold weights that differ from rank 0's (hash %s)", ErrMismatch, t.step, differ, all[0])
	}
	return nil
}
