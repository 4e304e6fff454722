package charlm

import (
	"hash/fnv"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/support/exceptions"
	"github.com/pkg/errors"
)

// defaultCorpusName is the default training text, relative to GOROOT: Newton's
// Opticks, which ships inside every Go installation.
const defaultCorpusName = "src/testdata/Isaac.Newton-Opticks.txt"

// trainFraction of the corpus bytes used for training; the rest is validation.
const trainFraction = 0.9

// Corpus is a byte corpus split into a training part (the first 90%) and a
// validation part (the last 10%).
type Corpus struct {
	// Path the corpus was read from ("" if built from memory).
	Path string `json:"path"`
	// Size of the whole corpus, in bytes.
	Size int `json:"size"`
	// Hash is the FNV-1a 64-bit hash of the corpus, to recognise it on resume.
	Hash uint64 `json:"hash"`

	// Train and Val are the two splits.
	Train, Val []byte `json:"-"`
}

// defaultCorpusPath returns the path of the default corpus inside GOROOT, found
// from $GOROOT, `go env GOROOT` or the GOROOT this binary was built with; it
// returns an error naming the places it looked if the file is not there.
func defaultCorpusPath() (string, error) {
	roots := goRoots()
	for _, root := range roots {
		p := filepath.Join(root, filepath.FromSlash(defaultCorpusName))
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	if len(roots) == 0 {
		return "", errors.Errorf("cannot find GOROOT (no $GOROOT, no `go` command, no built-in GOROOT) to read "+
			"the default corpus %s: give a text file with -data", defaultCorpusName)
	}
	return "", errors.Errorf("the default corpus %s is not in GOROOT (looked in %q): give a text file with -data",
		defaultCorpusName, roots)
}

// loadCorpus reads the corpus at path ("" for the default, see
// defaultCorpusPath; CorpusGoSrc or "gosrc:N" for Go's sources) and splits it.
func loadCorpus(path string) (*Corpus, error) {
	if limit, ok, err := parseGoSrcSpec(path); err != nil {
		return nil, err
	} else if ok {
		dir, err := goSrcDir()
		if err != nil {
			return nil, err
		}
		return loadGoSrc(dir, limit)
	}
	if path == "" {
		var err error
		if path, err = defaultCorpusPath(); err != nil {
			return nil, err
		}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, errors.Wrapf(err, "failed to read corpus")
	}
	c, err := newCorpus(data)
	if err != nil {
		return nil, errors.WithMessagef(err, "corpus %q", path)
	}
	c.Path = path
	return c, nil
}

// newCorpus splits data: the first int(0.9*len) bytes train, the rest validate.
// Both parts must hold at least one window of the largest block size used
// (checked where they are used); here only emptiness is an error.
func newCorpus(data []byte) (*Corpus, error) {
	if len(data) < 2 {
		return nil, errors.Errorf("corpus too small: %d bytes", len(data))
	}
	h := fnv.New64a()
	_, _ = h.Write(data)
	n := int(float64(len(data)) * trainFraction)
	return &Corpus{Size: len(data), Hash: h.Sum64(), Train: data[:n], Val: data[n:]}, nil
}

// NumValWindows returns the number of validation windows for the given block
// size: window k is bytes [block*k, block*k+block+1) of the validation split
// (block inputs, block next-byte targets), for every k that fits.
func (c *Corpus) NumValWindows(block int) int {
	if len(c.Val) < block+1 {
		return 0
	}
	return (len(c.Val)-block-1)/block + 1
}

// ValWindows returns the validation windows (see NumValWindows) padded with
// zero windows to a multiple of batch: an int32 tensor [batch, block+1] per
// batch, and a float32 mask [batch] per batch (1 for real windows, 0 for padding).
func (c *Corpus) ValWindows(block, batch int) (windows, masks []*tensors.Tensor, err error) {
	return c.ValWindowsAt(block, batch, nil)
}

// Batches draws training batches: each is `batch` windows of block+1 bytes at
// uniformly random offsets of the training split, from a seeded PCG generator.
// Its state (generator and number of batches drawn) can be saved and restored,
// so a resumed run sees exactly the batches an uninterrupted one would.
type Batches struct {
	data         []byte
	batch, block int
	pcg          *rand.PCG
	rng          *rand.Rand
	drawn        int64
}

// batchStream is the second PCG seed word, fixed so that one seed gives one stream.
const batchStream = 0x636861726c6d // "charlm"

// newBatches returns a batch generator over data (a training split) seeded with seed.
func newBatches(data []byte, batch, block int, seed int64) (*Batches, error) {
	if batch <= 0 || block <= 0 {
		return nil, errors.Errorf("batch (%d) and block (%d) must be > 0", batch, block)
	}
	if len(data) < block+1 {
		return nil, errors.Errorf("the training split (%d bytes) is shorter than one window of %d bytes", len(data), block+1)
	}
	pcg := rand.NewPCG(uint64(seed), batchStream)
	return &Batches{data: data, batch: batch, block: block, pcg: pcg, rng: rand.New(pcg)}, nil
}

// Next returns the next batch: inputs and targets, both int32 [batch, block],
// targets shifted by one byte.
func (b *Batches) Next() (inputs, targets *tensors.Tensor) {
	return b.NextShard(0, 1)
}

// NextShard returns worker rank's shard of the next batch (of `size`
// workers): its rows [rank*n, (rank+1)*n), n = batch/size, which must divide.
// Every worker draws the whole batch, so the workers of a data-parallel run
// keep one stream of batches in step, the one a single worker would see.
func (b *Batches) NextShard(rank, size int) (inputs, targets *tensors.Tensor) {
	if size < 1 || rank < 0 || rank >= size || b.batch%size != 0 {
		exceptions.Panicf("charlm: shard %d of %d of a batch of %d windows", rank, size, b.batch)
	}
	n := b.batch / size
	x := make([]int32, 0, n*b.block)
	y := make([]int32, 0, n*b.block)
	numOffsets := len(b.data) - b.block // Offsets in [0, len-block-1].
	for i := range b.batch {
		off := b.rng.IntN(numOffsets)
		if i/n != rank {
			continue
		}
		w := b.data[off : off+b.block+1]
		for j := range b.block {
			x = append(x, int32(w[j]))
			y = append(y, int32(w[j+1]))
		}
	}
	b.drawn++
	return tensors.FromFlatDataAndDimensions(x, n, b.block), tensors.FromFlatDataAndDimensions(y, n, b.block)
}

// Drawn returns how many batches have been drawn since the generator was seeded.
func (b *Batches) Drawn() int64 { return b.drawn }

// State returns the generator state: its PCG state and the number of batches drawn.
func (b *Batches) State() (BatchesState, error) {
	pcg, err := b.pcg.MarshalBinary()
	if err != nil {
		return BatchesState{}, errors.Wrap(err, "failed to save the batch generator state")
	}
	return BatchesState{PCG: pcg, Drawn: b.drawn}, nil
}

// SetState restores a state returned by State.
func (b *Batches) SetState(s BatchesState) error {
	if err := b.pcg.UnmarshalBinary(s.PCG); err != nil {
		return errors.Wrap(err, "failed to restore the batch generator state")
	}
	b.drawn = s.Drawn
	return nil
}

// BatchesState is the saved state of a Batches generator.
type BatchesState struct {
	// PCG is the marshalled math/rand/v2 PCG state.
	PCG []byte `json:"pcg"`
	// Drawn is the number of batches drawn.
	Drawn int64 `json:"drawn"`
}

// goRoots lists the candidate GOROOTs: $GOROOT, `go env GOROOT` and the
// GOROOT this binary was built with, in that order.
func goRoots() []string {
	var roots []string
	if root := os.Getenv("GOROOT"); root != "" {
		roots = append(roots, root)
	}
	if out, err := exec.Command("go", "env", "GOROOT").Output(); err == nil {
		if root := strings.TrimSpace(string(out)); root != "" {
			roots = append(roots, root)
		}
	}
	if root := runtime.GOROOT(); root != "" {
		roots = append(roots, root)
	}
	return roots
}

// PortablePath returns p with a GOROOT prefix written as "$GOROOT", so that
// results and logs name the default corpus the same way on every machine.
func PortablePath(p string) string {
	for _, root := range goRoots() {
		if rel, err := filepath.Rel(root, p); err == nil && !strings.HasPrefix(rel, "..") {
			return "$GOROOT/" + filepath.ToSlash(rel)
		}
	}
	return p
}
