package ggx

// trigamma returns psi'(x), the derivative of the digamma function, for x > 0:
// the recurrence psi'(x) = psi'(x+1) + 1/x^2 up to x >= 10, then the asymptotic
// series 1/x + 1/(2x^2) + sum_{k=1..7} B_2k / x^(2k+1), whose truncation error
// there is below 1e-17.
func trigamma(x float64) float64 {
	var acc float64
	for ; x < 10; x++ {
		acc += 1 / (x * x)
	}
	z := 1 / x
	z2 := z * z
	series := 1.0/6 - z2*(1.0/30-z2*(1.0/42-z2*(1.0/30-z2*(5.0/66-z2*(691.0/2730-z2*(7.0/6))))))
	return acc + z + z2/2 + z*z2*series
}
