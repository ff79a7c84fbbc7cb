#!/usr/bin/env bash
# Real-size random-weight exports (SAM2 hiera-tiny, CLIP ViT-B/32) in the public formats, for
# benchmarks only: bench/models/ is git-ignored and never committed (hundreds of MB).
#   bash scripts/make-real-size-models.sh && npm run bench -- --bundle bench/models/public-real-size --embedder crop --frames 3 --points-per-side 4
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
py=$("$root/scripts/python-env.sh")
out="$root/bench/models"
(cd "$root/training" && "$py/bin/python" -m ogclip_factory.fixtures --real-size --out "$out")
mkdir -p "$out/public-real-size"
cat > "$out/public-real-size/bundle.json" <<JSON
{
  "name": "public-real-size-random",
  "version": "bench",
  "format": 1,
  "sam2": { "format": "onnx-community", "encoder": "../sam2-real-size-random/onnx/vision_encoder.onnx",
            "decoder": "../sam2-real-size-random/onnx/prompt_encoder_mask_decoder.onnx", "input_size": 1024 },
  "clip": { "format": "xenova", "vision": "../clip-real-size-random/onnx/vision_model.onnx", "text": "../clip-real-size-random/onnx/text_model.onnx",
            "tokenizer": "../clip-real-size-random/tokenizer.json", "tokenizer_config": "../clip-real-size-random/tokenizer_config.json", "image_size": 224 },
  "labels": $(python3 -c "import json; print(json.dumps(json.load(open('$root/models/ogclip-shapes-tiny/bundle.json'))['labels']))")
}
JSON
echo "$out/public-real-size"
