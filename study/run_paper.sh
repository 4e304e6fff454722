#!/usr/bin/env bash
# Runs examples/paper's full profile, built from the committed version (HEAD),
# into study/full, with the runs of every study in study/init (the init
# study's runs are reused: same names, same arguments) and the checkpoints of
# the runs whose weights are analyzed in study/.work/checkpoints.
#
#   study/run_paper.sh STAGES [SEEDS]      e.g. study/run_paper.sh gct,act 1
#   study/run_paper.sh --side STAGES SEEDS  e.g. study/run_paper.sh --side act 2
#
# STAGES and SEEDS are examples/paper's -stages and -seeds (default: the full
# profile's seeds 1,2,3). It waits for a running study/run_init_study.sh to
# finish, then holds the studies' run lock for its whole length, so runs never
# time each other. Resumable: finished runs are reused, a run with a
# checkpoint resumes; the stages are always redone (-force) from the runs, so
# the report follows the runs found. The output of each invocation is
# appended to study/full/paper.log, which names the commit that built it.
#
# --side trains runs beside another study instead of after it, on a machine
# whose cores one run leaves idle (a charlm run keeps about 1 of 2 cores
# busy): it takes no run lock (the runs' own locks keep two processes from
# training the same run, and each leaves the runs the other is training for
# the end of its stage, training its later stages' runs while they stay
# busy, so the same stages are shared out), and writes its stages' report to
# study/.work/side-STAGES-SEEDS-PID, not study/full (a later run of this script
# without --side redoes the stages from all the runs). Its log is
# study/.work/side-STAGES-SEEDS-PID/paper.log. The report in study/full of
# other seeds than SEEDS is moved to study/.work/full-seeds-* first.
source "$(dirname "$0")/lib.sh"
side=
if [ "${1:-}" = --side ]; then
  side=1
  shift
fi
usage="usage: study/run_paper.sh [--side] STAGES [SEEDS]"
stages=${1:?$usage}
seeds=${2:-1,2,3}
out=study/full
[ -n "$side" ] && out=study/.work/side-$stages-$seeds-$$
study_setup "$out" >/dev/null
# The report of other seeds (examples/paper refuses to mix them): moved
# aside, as every stage is redone from its runs.
if [ -z "$side" ] && [ -f "$out/results.json" ]; then
  had=$(tr -d ' \n' <"$out/results.json" | grep -o '"seeds":\[[^]]*\]' | head -1 | tr -dc '0-9,')
  if [ "$had" != "$seeds" ]; then
    aside=$work/full-seeds-$had-$(date -u +%Y%m%d%H%M%S)
    mkdir -p "$aside"
    for f in results.json report.md figures; do
      if [ -e "$out/$f" ]; then mv "$out/$f" "$aside/"; fi
    done
    echo "== the report of seeds $had moved to ${aside#"$PWD"/}" >>"$out/paper.log"
  fi
fi

key=$(git ls-tree -r HEAD -- go.mod go.sum backends ggx layers optimizers internal examples |
  git hash-object --stdin | cut -c1-10)
study_build paper "$key" ./examples/paper
paper=$built

if [ -n "$side" ]; then
  echo "== $(date -u '+%Y-%m-%d %H:%M:%S') paper built from commit $(cat "$paper.commit"): -stages $stages -seeds $seeds (side by side)" >>"$out/paper.log"
  exec "$paper" -profile full -stages "$stages" -seeds "$seeds" -force -quiet \
    -out "$out" -runs study/init -checkpoints "$checkpoints" >>"$out/paper.log" 2>&1
fi

while pgrep -f run_init_study.sh >/dev/null; do sleep 30; done
(
  flock 9
  echo "== $(date -u '+%Y-%m-%d %H:%M:%S') paper built from commit $(cat "$paper.commit"): -stages $stages -seeds $seeds"
  "$paper" -profile full -stages "$stages" -seeds "$seeds" -force -quiet \
    -out "$out" -runs study/init -checkpoints "$checkpoints"
) 9>"$work/run.lock" >>"$out/paper.log" 2>&1
