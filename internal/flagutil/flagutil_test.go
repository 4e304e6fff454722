package flagutil

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseInts(t *testing.T) {
	for list, want := range map[string][]int{
		"250, 500,1000,": {250, 500, 1000},
		" -3 ,0,7":       {-3, 0, 7},
		"":               nil,
		" , ":            nil,
	} {
		got, err := ParseInts(list)
		require.NoError(t, err, list)
		require.Equal(t, want, got, list)
	}
	for _, bad := range []string{"abc", "1.5", "1,2x", "1 2", "99999999999999999999"} {
		_, err := ParseInts(bad)
		require.Error(t, err, bad)
	}
	_, err := ParseInts("4,x")
	require.EqualError(t, err, `"x" is not an integer`)
}
