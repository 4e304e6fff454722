#!/usr/bin/env bash
# Runs the GG-initialization study of charlm (see ../README.md), one run per
# (configuration, seed), each writing its own results JSON; a run whose JSON
# exists is skipped, so the script resumes where it stopped. Seeds go in the
# outer loop, so a partial study has every configuration at seed 1 first.
#
#   study/run_init_study.sh [STEPS] [SEEDS]      (defaults: 2000 "1 2 3")
#
# The "gg-fit" configuration takes beta per layer kind from the trained
# baseline (normal02, seed 1): ggstats -fit-betas on its final checkpoint,
# recorded in study/init/gg-fit-betas.txt ("a good model to train a good model").
set -euo pipefail
cd "$(dirname "$0")/.."
steps=${1:-2000}
seeds=${2:-"1 2 3"}
out=study/init
work=${STUDY_WORK:-study/.work} # Binaries, sources and checkpoints (ignored by git).
mkdir -p "$out" "$work" && work=$(cd "$work" && pwd)
# Wait for a run left over by an earlier invocation, and keep its result.
while pgrep -f "$work/charlm" >/dev/null; do sleep 20; done
for tmp in "$out"/*.json.tmp; do
  [ -e "$tmp" ] || continue
  if grep -q "results written" "${tmp%.json.tmp}.log" 2>/dev/null; then mv "$tmp" "${tmp%.tmp}"; else rm -f "$tmp"; fi
done

# Build the committed version (HEAD), so edits in progress never change a study.
rev=$(git rev-parse --short HEAD)
bin=$work/charlm-$rev
if [ ! -x "$bin" ]; then
  rm -rf "$work/src-$rev" && mkdir -p "$work/src-$rev"
  git archive HEAD | tar -x -C "$work/src-$rev"
  (cd "$work/src-$rev" && GOEXPERIMENT=simd go build -o "$bin" ./examples/charlm)
fi
echo "charlm binary built from commit $rev"

fit_betas() {
  local file=$out/gg-fit-betas.txt ckpt=$work/ckpt-normal02-seed1-steps$steps
  if [ ! -s "$file" ] && [ -f "$out/normal02-seed1-steps$steps.json" ]; then
    (cd "$work/src-$rev" && go run ./examples/ggstats -fit-betas "$ckpt") > "$file" 2>/dev/null || rm -f "$file"
  fi
  [ -s "$file" ] && cat "$file"
}

for seed in $seeds; do
  configs=(
    "normal02|-init normal02"
    "he|-init he"
    "gg-beta1.0|-init gg -beta 1.0"
    "gg-beta1.4|-init gg -beta 1.4"
    "gg-beta2.0|-init gg -beta 2.0"
  )
  if betas=$(fit_betas); then
    configs+=("gg-fit|-init gg -beta $betas")
  fi
  for entry in "${configs[@]}"; do
    name=${entry%%|*}
    flags=${entry#*|}
    result="$out/${name}-seed${seed}-steps${steps}.json"
    [ -f "$result" ] && continue
    echo "== $(date -u +%H:%M:%S) $name seed $seed"
    ckpt=()
    if [ "$name" = normal02 ]; then
      ckpt=(-checkpoint "$work/ckpt-${name}-seed${seed}-steps${steps}")
    fi
    # shellcheck disable=SC2086
    "$bin" -quiet -steps "$steps" -seed "$seed" -eval-at 250,500,1000,1500,2000 $flags "${ckpt[@]}" \
      -results "$result.tmp" > "$out/${name}-seed${seed}-steps${steps}.log" 2>&1
    mv "$result.tmp" "$result"
  done
done
