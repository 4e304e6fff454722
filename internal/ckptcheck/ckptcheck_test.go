package ckptcheck

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/gomlx/compute/dtypes"
	"github.com/stretchr/testify/require"
)

func TestManifestText(t *testing.T) {
	data, meta := sha256.Sum256([]byte("data")), sha256.Sum256([]byte("meta"))
	m := Manifest{"b.json": meta, "b.bin": data}
	text, err := m.MarshalText()
	require.NoError(t, err)
	require.Equal(t, fmt.Sprintf("%x  b.bin\n%x  b.json\n", data, meta), string(text)) // sha256sum's format, sorted.
	var back Manifest
	require.NoError(t, back.UnmarshalText(text))
	require.Equal(t, m, back)

	for _, bad := range []string{"", "xyz  b.bin\n", fmt.Sprintf("%x b.bin\n", data), fmt.Sprintf("%x  \n", data)} {
		require.ErrorIs(t, back.UnmarshalText([]byte(bad)), errCorrupt, "%q", bad)
	}
	_, err = Manifest{"a\nb": data}.MarshalText()
	require.Error(t, err)
}

func TestByteSize(t *testing.T) {
	for _, tc := range []struct {
		dtype dtypes.DType
		dims  []int
		want  int64
	}{
		{dtypes.Float32, nil, 4},
		{dtypes.Float32, []int{3, 5}, 60},
		{dtypes.BFloat16, []int{7}, 14},
		{dtypes.Int64, []int{2, 0, 9}, 0},
		{dtypes.Bool, []int{3}, 3},
		{dtypes.Int4, []int{3}, 2}, // Packed, the last byte padded.
		{dtypes.Float32, []int{1 << 20, 1 << 20}, 1 << 42},
	} {
		got, err := byteSize(tc.dtype, tc.dims)
		require.NoError(t, err)
		require.Equal(t, tc.want, got, "%s%v", tc.dtype, tc.dims)
		if tc.want < 1<<20 {
			require.Equal(t, int64(tc.dtype.SizeForDimensions(tc.dims...)), got, "as GoMLX counts")
		}
	}
	for _, tc := range []struct {
		dtype dtypes.DType
		dims  []int
	}{
		{dtypes.Float32, []int{4, -1}},
		{dtypes.Float32, []int{math.MaxInt, 2}},
		{dtypes.Float64, []int{1 << 31, 1 << 31}}, // 2^65 bytes.
		{dtypes.InvalidDType, []int{2}},
		{dtypes.DType(250), []int{2}},
	} {
		_, err := byteSize(tc.dtype, tc.dims)
		require.Error(t, err, "%s%v", tc.dtype, tc.dims)
	}
}

// writeCheckpoint writes the checkpoint base into dir: data, the metadata
// of vars, and a manifest of both if withManifest.
func writeCheckpoint(t *testing.T, dir, base string, data []byte, vars []Variable, withManifest bool) {
	t.Helper()
	meta, err := json.Marshal(map[string]any{"Variables": vars, "BinFormat": "uncompressed"})
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, base+DataExt), data, 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, base+MetadataExt), meta, 0o644))
	if withManifest {
		text, err := Manifest{base + DataExt: sha256.Sum256(data), base + MetadataExt: sha256.Sum256(meta)}.MarshalText()
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, base+ManifestExt), text, 0o644))
	}
}

func TestCheck(t *testing.T) {
	vars := []Variable{
		{ParameterName: "var:/w", Dimensions: []int{2, 3}, DType: dtypes.Float32, Pos: 0, Length: 24},
		{ParameterName: "var:/global_step", DType: dtypes.Int64, Pos: 24, Length: 8},
	}
	data := make([]byte, 32)
	for i := range data {
		data[i] = byte(i)
	}
	const base = "checkpoint-n0000000-x"
	for _, withManifest := range []bool{true, false} {
		dir := t.TempDir()
		writeCheckpoint(t, dir, base, data, vars, withManifest)
		c, err := Check(dir, base)
		require.NoError(t, err)
		require.Equal(t, withManifest, c.Checksummed)
		require.Equal(t, vars, c.Variables)
	}

	for name, tc := range map[string]struct {
		data         []byte
		vars         []Variable
		withManifest bool
		damage       func(dir string) // After the manifest is written.
		want         []string
	}{
		"flipped bit": {data: data, vars: vars, withManifest: true,
			damage: func(dir string) {
				path := filepath.Join(dir, base+DataExt)
				b, _ := os.ReadFile(path)
				b[5] ^= 1
				_ = os.WriteFile(path, b, 0o644)
			},
			want: []string{base + DataExt, "SHA-256 of its 32 bytes", base + ManifestExt}},
		"truncated": {data: data[:30], vars: vars,
			want: []string{base + DataExt, `"/global_step" of shape Int64[] in ` + base + MetadataExt + " needs 8 bytes, the data holds 30 bytes (6 after byte 24)"}},
		"trailing bytes": {data: append(data, 0), vars: vars,
			want: []string{"take 32 bytes, the data holds 33 bytes"}},
		"huge shape": {data: data, vars: []Variable{{ParameterName: "var:/w", Dimensions: []int{1 << 20, 1 << 20}, DType: dtypes.Float32, Length: 24}},
			want: []string{`"/w" of shape Float32[1048576 1048576]`, "needs 4398046511104 bytes, the data holds 32 bytes"}},
		"length disagrees": {data: data, vars: []Variable{{ParameterName: "var:/w", Dimensions: []int{2, 3}, DType: dtypes.Float32, Length: 32}},
			want: []string{"needs 24 bytes, its entry says 32 bytes"}},
		"out of order": {data: data, vars: []Variable{vars[1], vars[0]},
			want: []string{`"/global_step" is at byte 24`}},
		"negative dimension": {data: data, vars: []Variable{{ParameterName: "var:/w", Dimensions: []int{-2, 3}, DType: dtypes.Float32, Length: 24}},
			want: []string{`"/w"`, "negative dimension"}},
		"metadata not JSON": {data: data, vars: vars,
			damage: func(dir string) {
				_ = os.WriteFile(filepath.Join(dir, base+MetadataExt), []byte(`{"Variables": [`), 0o644)
			},
			want: []string{base + MetadataExt, "does not decode"}},
		"manifest without the metadata": {data: data, vars: vars,
			damage: func(dir string) {
				text, _ := Manifest{base + DataExt: sha256.Sum256(data)}.MarshalText()
				_ = os.WriteFile(filepath.Join(dir, base+ManifestExt), text, 0o644)
			},
			want: []string{base + ManifestExt, "no checksum for " + base + MetadataExt}},
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			writeCheckpoint(t, dir, base, tc.data, tc.vars, tc.withManifest)
			if tc.damage != nil {
				tc.damage(dir)
			}
			_, err := Check(dir, base)
			require.ErrorIs(t, err, errCorrupt)
			for _, want := range tc.want {
				require.ErrorContains(t, err, want)
			}
		})
	}

	dir := t.TempDir()
	writeCheckpoint(t, dir, base, data, vars, true)
	require.NoError(t, os.Remove(filepath.Join(dir, base+DataExt)))
	_, err := Check(dir, base)
	require.ErrorIs(t, err, os.ErrNotExist)
	require.ErrorContains(t, err, base+DataExt)
}

func TestList(t *testing.T) {
	names, err := List(filepath.Join(t.TempDir(), "missing"))
	require.NoError(t, err)
	require.Empty(t, names)

	dir := t.TempDir()
	for _, name := range []string{"checkpoint-n0000001-b.json", "checkpoint-n0000000-a.json", "checkpoint-n0000000-a.bin",
		".tmp-checkpoint-n0000002-c.json-1", "other.json"} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), nil, 0o644))
	}
	names, err = List(dir)
	require.NoError(t, err)
	require.Equal(t, []string{"checkpoint-n0000000-a", "checkpoint-n0000001-b"}, names)
}
