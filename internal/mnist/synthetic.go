package mnist

import "math/rand/v2"

// Synthetic returns a small stand-in dataset in MNIST's format, for tests and
// smoke runs of the code without the real data (its accuracies say nothing
// about MNIST): nTrain and nTest 28x28 images of NumClasses easily separable
// classes. Class c is a bright 6x6 square at a position of its own (two rows
// of five), moved by up to 2 pixels, over faint noise; the classes are drawn
// uniformly, seeded.
func Synthetic(nTrain, nTest int, seed uint64) *Dataset {
	const side = 28
	rng := rand.New(rand.NewPCG(seed, 0x53796e7468))
	split := func(n int) Split {
		s := Split{N: n, Images: make([]uint8, n*side*side), Labels: make([]uint8, n)}
		for i := range n {
			c := rng.IntN(NumClasses)
			s.Labels[i] = uint8(c)
			img := s.Images[i*side*side : (i+1)*side*side]
			for j := range img {
				img[j] = uint8(rng.IntN(40))
			}
			top, left := 3+12*(c/5)+rng.IntN(5)-2, 2+5*(c%5)+rng.IntN(3)-1
			for r := max(top, 0); r < min(top+6, side); r++ {
				for col := max(left, 0); col < min(left+6, side); col++ {
					img[r*side+col] = uint8(200 + rng.IntN(56))
				}
			}
		}
		return s
	}
	return &Dataset{Rows: side, Cols: side, Train: split(nTrain), Test: split(nTest)}
}
