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
#
# Every run checkpoints into study/.work/checkpoints/<run> (ignored by git), the
# layout of examples/paper's -checkpoints, so that the paper's full profile can
# take this study's runs and weights: -runs study/init -checkpoints study/.work/checkpoints.
source "$(dirname "$0")/lib.sh"
steps=${1:-2000}
seeds=${2:-"1 2 3"}
out=study/init
study_setup "$out"

fit_betas() {
  local file=$out/gg-fit-betas.txt ckpt=$work/checkpoints/normal02-seed1-steps$steps
  if [ ! -s "$file" ] && [ -f "$out/normal02-seed1-steps$steps.json" ]; then
    (cd "$src" && go run ./examples/ggstats -fit-betas "$ckpt") > "$file" 2>/dev/null || rm -f "$file"
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
    # shellcheck disable=SC2086
    study_run "$out" "${name}-seed${seed}-steps${steps}" -steps "$steps" -seed "$seed" \
      -eval-at 250,500,1000,1500,2000 $flags -checkpoint "$checkpoints/${name}-seed${seed}-steps${steps}"
  done
done
