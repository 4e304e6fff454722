#!/usr/bin/env bash
# Runs the tests and charlm on an XLA/PJRT backend (a GPU's PJRT plugin, for
# example) on a machine that may have no Go toolchain: build the binaries
# where Go and cgo are, copy the repository with them, run them where the
# plugin is.
#
#   integration_test/xla_check.sh build [DIR]         # with Go: test binaries and charlm, -tags xla, into DIR
#   integration_test/xla_check.sh run PLUGIN [DIR]    # where PLUGIN is: run them on xla:PLUGIN
#
# DIR defaults to .xla-check (ignored by git); the build leaves there one
# archive, bin.tar.xz (about 35 MB: stripped binaries), which the run phase
# unpacks. PLUGIN is what follows "xla:"
# in GOMLX_BACKEND: a plugin name ("cuda", "cpu") or the path of a PJRT
# plugin (e.g. the xla_cuda_plugin.so of JAX's CUDA wheels). The run phase
# writes DIR/summary.txt: each test binary's verdict (the tests build their
# graphs on GGPRIOR_TEST_BACKEND, see internal/testbackend) and charlm's
# median step time on the plugin and on the pure-Go backend, then prints it;
# then whether two -deterministic charlm runs on the plugin end with the same
# weights, and a data-parallel run of -size small on -data gosrc:16M (like the
# default corpus, gosrc needs a GOROOT with its sources on the run machine).
# Each test binary gets TEST_TIMEOUT (default 150s).
set -uo pipefail
cd "$(dirname "$0")/.."
phase=${1:?usage: integration_test/xla_check.sh build [DIR] | run PLUGIN [DIR]}
packages=(ggx layers optimizers optimizers/expgolomb internal/bisect internal/charlm)

case $phase in
build)
  dir=${2:-.xla-check}
  rm -rf "$dir" && mkdir -p "$dir/bin"
  set -e
  for pkg in "${packages[@]}"; do
    GOEXPERIMENT=simd CGO_ENABLED=1 go test -tags xla -ldflags='-s -w' -c -o "$dir/bin/$(echo "$pkg" | tr / _).test" "./$pkg"
  done
  GOEXPERIMENT=simd CGO_ENABLED=1 go build -tags xla -ldflags='-s -w' -o "$dir/bin/charlm" ./examples/charlm
  tar -C "$dir" -cf - bin | xz -T0 -6 > "$dir/bin.tar.xz"
  rm -rf "$dir/bin"
  echo "built into $dir/bin.tar.xz ($(du -h "$dir/bin.tar.xz" | cut -f1)): ${packages[*]} and charlm"
  ;;
run)
  plugin=${2:?usage: integration_test/xla_check.sh run PLUGIN [DIR]}
  dir=$(cd "${3:-.xla-check}" && pwd)
  root=$(pwd)
  [ -d "$dir/bin" ] || xz -dc "$dir/bin.tar.xz" | tar -C "$dir" -xf - || exit 1
  summary=$dir/summary.txt
  export GOMLX_NO_AUTO_INSTALL=1
  {
    echo "xla check $(date -u '+%Y-%m-%d %H:%M:%S') UTC, plugin $plugin"
    command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
  } > "$summary"
  for pkg in "${packages[@]}"; do
    bin=$dir/bin/$(echo "$pkg" | tr / _).test
    log=$dir/$(echo "$pkg" | tr / _).log
    start=$(date +%s)
    (cd "$root/$pkg" && GGPRIOR_TEST_BACKEND="xla:$plugin" timeout "${TEST_TIMEOUT:-150}" \
      "$bin" -test.timeout "${TEST_TIMEOUT:-150}s" > "$log" 2>&1)
    rc=$?
    verdict=pass
    [ $rc -eq 0 ] || verdict="FAIL (exit $rc; see $(basename "$log"))"
    [ $rc -eq 124 ] && verdict="TIMEOUT after ${TEST_TIMEOUT:-150}s"
    echo "test $pkg: $verdict, $(($(date +%s) - start))s" >> "$summary"
  done
  for backend in "xla:$plugin" go; do
    steps=60
    [ "$backend" = go ] && steps=20
    out=$dir/charlm-$(echo "$backend" | tr ':/' '__').json
    if GOMLX_BACKEND=$backend "$dir/bin/charlm" -quiet -steps "$steps" -eval-at "$steps" -val-windows 64 \
      -results "$out" > "$out.log" 2>&1; then
      ms=$(grep -o '"sec_per_step_median": *[0-9.e-]*' "$out" | grep -o '[0-9.e-]*$')
      echo "charlm on $backend: $steps steps, median $(awk "BEGIN{printf \"%.1f\", $ms*1000}") ms/step" >> "$summary"
    else
      echo "charlm on $backend: FAIL (see $(basename "$out").log)" >> "$summary"
    fi
  done
  # Determinism: two -deterministic runs on the plugin end with the same
  # weights; a data-parallel run (deterministic by default, its ranks'
  # weights compared every 5 steps) of the small size on the gosrc corpus.
  for i in 1 2; do
    GOMLX_BACKEND="xla:$plugin" "$dir/bin/charlm" -quiet -deterministic -steps 20 -eval-at 20 -val-windows 64 \
      > "$dir/determinism-$i.log" 2>&1
  done
  h1=$(grep -o 'weights_hash=[0-9a-f]*' "$dir/determinism-1.log")
  h2=$(grep -o 'weights_hash=[0-9a-f]*' "$dir/determinism-2.log")
  if [ -n "$h1" ] && [ "$h1" = "$h2" ]; then
    echo "charlm -deterministic on xla:$plugin: the same weights twice ($h1)" >> "$summary"
  else
    echo "charlm -deterministic on xla:$plugin: FAIL, weights differ or a run failed (see determinism-1.log, determinism-2.log)" >> "$summary"
  fi
  out=$dir/charlm-small-gosrc-w2.json
  if GOMLX_BACKEND="xla:$plugin" "$dir/bin/charlm" -quiet -size small -data gosrc:16M -workers 2 -verify-every 5 \
    -steps 20 -eval-at 20 -val-windows 64 -results "$out" > "$out.log" 2>&1; then
    ms=$(grep -o '"sec_per_step_median": *[0-9.e-]*' "$out" | grep -o '[0-9.e-]*$')
    echo "charlm -size small -data gosrc:16M -workers 2 on xla:$plugin: 20 steps, median $(awk "BEGIN{printf \"%.1f\", $ms*1000}") ms/step, ranks equal" >> "$summary"
  else
    echo "charlm -size small -data gosrc:16M -workers 2 on xla:$plugin: FAIL (see $(basename "$out").log)" >> "$summary"
  fi
  cat "$summary"
  ;;
*)
  echo "usage: integration_test/xla_check.sh build [DIR] | run PLUGIN [DIR]" >&2
  exit 2
  ;;
esac
