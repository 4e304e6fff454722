# Shared by the study scripts (source it): builds the committed charlm and runs
# one configuration at a time, resumably. Every run holds a lock, so studies
# started side by side take turns instead of timing each other's runs.
#
#   study_setup OUT              cd to the repo, make OUT, build HEAD's charlm
#                                (sets $bin, $src: its sources, and
#                                $checkpoints: the runs' checkpoint directory)
#   study_build NAME KEY PKG     build HEAD's PKG once per KEY (sets $built)
#   study_run OUT NAME FLAGS...  run "$bin FLAGS" into OUT/NAME.json (+ .log),
#                                unless OUT/NAME.json exists
set -euo pipefail

study_setup() {
  local out=$1
  cd "$(dirname "${BASH_SOURCE[0]}")/.."
  work=${STUDY_WORK:-study/.work} # Binaries, sources and checkpoints (ignored by git).
  mkdir -p "$out" "$work" && work=$(cd "$work" && pwd)
  # The checkpoints, relative to the repository: the paths runs record in
  # their results stay within it.
  checkpoints=$(realpath --relative-to=. "$work")/checkpoints
  # Build the committed version (HEAD), so edits in progress never change a
  # study; commits that leave charlm's sources alone reuse the binary.
  rev=$(git rev-parse --short HEAD)
  local key
  key=$(git ls-tree -r HEAD -- go.mod go.sum backends ggx layers optimizers examples/charlm examples/ggstats |
    git hash-object --stdin | cut -c1-10)
  study_build charlm "$key" ./examples/charlm
  bin=$built src=$work/src-$key
  echo "charlm binary $bin, built from commit $(cat "$bin.commit")"
}

# study_build NAME KEY PKG: builds package PKG of HEAD into $work/NAME-KEY
# (unless built already), from a copy of HEAD's tree in $work/src-KEY, and
# records the commit in $work/NAME-KEY.commit; sets $built to the binary.
study_build() {
  local name=$1 key=$2 pkg=$3
  built=$work/$name-$key
  if [ ! -x "$built" ]; then
    rm -rf "$work/src-$key" && mkdir -p "$work/src-$key"
    git archive HEAD | tar -x -C "$work/src-$key"
    (cd "$work/src-$key" && GOEXPERIMENT=simd go build -o "$built.tmp" "$pkg" && mv "$built.tmp" "$built")
    echo "$rev" > "$built.commit"
  fi
}

study_run() {
  local out=$1 name=$2
  shift 2
  local result=$out/$name.json
  [ -f "$result" ] && return 0
  (
    flock 9
    # The same run left behind by an earlier invocation: wait for it, keep its results if it finished.
    while pgrep -f -- "-results $result.tmp" >/dev/null; do sleep 20; done
    if [ -f "$result.tmp" ] && grep -q "results written" "$out/$name.log" 2>/dev/null; then mv "$result.tmp" "$result"; fi
    [ -f "$result" ] && exit 0
    echo "== $(date -u +%H:%M:%S) $name"
    {
      echo "study: charlm built from commit $(cat "$bin.commit")"
      "$bin" -quiet "$@" -results "$result.tmp"
    } > "$out/$name.log" 2>&1
    mv "$result.tmp" "$result"
  ) 9>"$work/run.lock"
}
