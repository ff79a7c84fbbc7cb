#!/usr/bin/env bash
# Soak run of live tagging (not part of the tests): starts its own Kafka broker on free loopback
# ports, runs topologies/live-tagging.yaml against it and the camera bridge on a looping video of
# datasets/shapes-val at <fps>, samples RSS, consumer lag, dropped frames and event-loop delay
# every few seconds, and writes bench/results/soak-<date>-<minutes>min-<fps>fps.{json,png}.
#   scripts/soak.sh <minutes> <fps> [--sample-s 5] [--out bench/results/soak-....json]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
if [ $# -lt 2 ]; then
  echo "usage: scripts/soak.sh <minutes> <fps> [--sample-s 5] [--out file.json]" >&2
  exit 2
fi
npm run -s build
scripts/kafka/fetch.sh
exec node dist/bench/soak.js --minutes "$1" --fps "$2" --command "scripts/soak.sh $*" "${@:3}"
