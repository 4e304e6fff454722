// Package flagutil parses the list values of ggprior's command-line flags.
package flagutil

import (
	"fmt"
	"strconv"
	"strings"
)

// ParseInts parses a comma-separated list of integers, such as "250, 500,1000":
// spaces around an item and empty items (a trailing comma, an empty list)
// are ignored. The caller checks the values' range, and names the flag in
// its errors.
func ParseInts(list string) ([]int, error) {
	var out []int
	for part := range strings.SplitSeq(list, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		v, err := strconv.Atoi(part)
		if err != nil {
			return nil, fmt.Errorf("%q is not an integer", part)
		}
		out = append(out, v)
	}
	return out, nil
}
