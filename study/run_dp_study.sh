#!/usr/bin/env bash
# Runs the data-parallel study of charlm (see ../README.md): W in-process
# workers (each on its shard of every batch of 12 windows) exchanging their
# gradients through each compressor, one run per (W, compressor), each writing
# its results JSON (bytes sent per worker per step, the step's time split into
# compute, encode, exchange, decode and update); runs whose JSON exists are
# skipped. The W=1 row is the single-process baseline at the same length.
#
#   study/run_dp_study.sh [STEPS] [SEED]      (defaults: 500 1)
#   go run ./examples/dpstudy -dir study/dp -out study/dp     (the table)
source "$(dirname "$0")/lib.sh"
steps=${1:-500}
seed=${2:-1}
out=study/dp
study_setup "$out"
evals=$((steps / 2)),$steps
study_run "$out" "w1-none-seed${seed}-steps${steps}" -steps "$steps" -seed "$seed" -eval-at "$evals"
for workers in 2 4; do
  for compress in none gct:2 topk:0.01 powersgd:4; do
    study_run "$out" "w${workers}-${compress/:/}-seed${seed}-steps${steps}" -steps "$steps" -seed "$seed" \
      -eval-at "$evals" -workers "$workers" -compress "$compress"
  done
done
