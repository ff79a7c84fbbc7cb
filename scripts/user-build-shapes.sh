#!/usr/bin/env bash
# The user path on data with a known answer: the embedded bundle's SAM2 and CLIP taken as "the
# user's models" and N labelled images in the seed's dataset format (shapes on a non-square
# canvas, seeds 6000000.., never used by the embedded bundle's training, half of them with masks)
# -> python -m ogclip_factory.user_build with the default settings (configs/user-head.yaml), once
# per N. Writes training/results/user-shapes-<N>-eval.{json,md} and their pictures; data, bundles
# and the shared feature cache go to bench/models/ (git-ignored). About 20 minutes on 2 cores
# for the default 300 and 1500.
#   bash scripts/user-build-shapes.sh [N ...]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
py=$("$root/scripts/python-env.sh")
work="$root/bench/models/user-shapes"
mkdir -p "$work"
cd "$root/training"
for n in "${@:-300 1500}"; do
  for count in $n; do
    rm -rf "$work/data-$count"
    "$py/bin/python" -m ogclip_factory.user_fixture --out "$work/data-$count" --count "$count"
    "$py/bin/python" -m ogclip_factory.user_build --clip ../models/ogclip-shapes-tiny --sam2 ../models/ogclip-shapes-tiny \
      --data "$work/data-$count/dataset.json" --out "$work/bundle-$count" --work "$work/build" --name "user-shapes-$count" \
      --results results
  done
done
