#!/usr/bin/env bash
# npm run tune:demo [-- --count N] [-- --first-seed S]   (defaults: 60 frames from seed 3000000)
# Re-derives the five filters of topologies/demo.yaml (sam2.predIouThresh, stabilityScoreThresh,
# boxNmsThresh, similarity.threshold, maskNmsThresh) on the development split, never on the
# committed validation split (datasets/shapes-val, seeds 1,000,000..1,000,299):
#   1. generates the development split (default 60 frames from seed 3,000,000) into a temporary folder
#   2. builds the TypeScript
#   3. grid-searches the five settings through the pipeline with the demo topology's bundle
#      (bench/tune-automatic.ts; grid and selection rule in bench/tuning.ts)
#   4. writes topologies/demo.tuning.json (command, split, bundle, every grid point with precision,
#      recall and F1, the rule, the choice) and the choice into topologies/demo.yaml
# test/topology/demo-tuning.test.ts fails when demo.yaml and the file's choice disagree.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

count=60
first=3000000
usage() { sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
  case "$1" in
    --count) count=${2:?--count needs a number}; shift 2 ;;
    --first-seed) first=${2:?--first-seed needs a number}; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "tune-demo: unknown argument $1" >&2; usage >&2; exit 2 ;;
  esac
done
[[ "$count" =~ ^[1-9][0-9]*$ ]] || { echo "tune-demo: --count must be a positive integer, got $count" >&2; exit 2; }
# The development split is seeds 3000000..3999999 (training/ogclip_factory/pool.py).
[[ "$first" =~ ^[0-9]+$ ]] && [ "$first" -ge 3000000 ] && [ $((first + count)) -le 4000000 ] || {
  echo "tune-demo: seeds $first..$((first + count - 1)) leave the development split (3000000..3999999)" >&2
  exit 2
}

cmd="npm run tune:demo"
extra=""
[ "$count" != 60 ] && extra+=" --count $count"
[ "$first" != 3000000 ] && extra+=" --first-seed $first"
[ -n "$extra" ] && cmd+=" --$extra"

start=$SECONDS
tmp=$(mktemp -d "${TMPDIR:-/tmp}/ogclip-tune-XXXXXX")
trap 'rm -rf "$tmp"' EXIT

echo "== development split: $count frames from seed $first" >&2
py=$(scripts/python-env.sh)
(cd training && "$py/bin/python" -m ogclip_factory.dataset --out "$tmp/dev" --first-seed "$first" --count "$count") >&2

echo "== build" >&2
npm run -s build

echo "== grid search" >&2
node dist/bench/tune-automatic.js topologies/demo.yaml "$tmp/dev" \
  --out topologies/demo.tuning.json --apply \
  --command "$cmd" \
  --generate "(cd training && \$(../scripts/python-env.sh)/bin/python -m ogclip_factory.dataset --out <split> --first-seed $first --count $count)"

echo "== done in $((SECONDS - start)) s: topologies/demo.tuning.json, topologies/demo.yaml (git diff topologies/ shows what changed)" >&2
