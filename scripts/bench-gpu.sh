#!/usr/bin/env bash
# The benchmark on a CUDA machine: the same JSON as `npm run bench`, with every session on
# onnxruntime's CUDA execution provider (CPU for operators it lacks).
#   scripts/bench-gpu.sh [extra pipeline-bench options]
# Needs an NVIDIA driver with CUDA 12 and onnxruntime-node's CUDA provider files. The CPU install
# this project makes by default (.npmrc: onnxruntime-node-install=skip) has none; fetch them once,
# where the network allows, with
#   ONNXRUNTIME_NODE_INSTALL=cuda12 npm rebuild onnxruntime-node
# Writes bench/results/<bundle>-cuda.json, and the real-size bundle's when bench/models has it
# (npm run models:real-size).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
lib=node_modules/onnxruntime-node/bin/napi-v6/linux/x64/libonnxruntime_providers_cuda.so
if [ ! -f "$lib" ]; then
  echo "bench-gpu: $lib is missing: run 'ONNXRUNTIME_NODE_INSTALL=cuda12 npm rebuild onnxruntime-node' first" >&2
  exit 2
fi
npm run -s build
node dist/bench/pipeline-bench.js --execution-provider cuda --out bench/results/ogclip-shapes-tiny-cuda.json "$@"
if [ -d bench/models/public-real-size ]; then
  node dist/bench/pipeline-bench.js --execution-provider cuda --bundle bench/models/public-real-size --embedder crop \
    --frames 20 --out bench/results/public-real-size-cuda.json "$@"
fi
