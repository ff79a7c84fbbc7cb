#!/usr/bin/env bash
# Prints the path of the model factory's Python environment, creating it when needed.
# The environment lives outside the clone (torch from PyPI is a multi-GB CUDA build), one per
# hash of training/requirements.lock, so CI and later clones reuse it while the lock is unchanged.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
lock="$root/training/requirements.lock"
hash=$(sha256sum "$lock" | cut -c1-12)
base="${OGCLIP_PYENV_HOME:-$HOME/.cache/ogclip}"
env="$base/py-$hash"
if [ ! -f "$env/.complete" ]; then
  mkdir -p "$base"
  rm -rf "$env"
  python3 -m venv "$env" >&2
  "$env/bin/pip" install -q --disable-pip-version-check -r "$lock" >&2
  # open_clip is installed only for the CLIP BPE vocabulary file it ships; it is never imported.
  "$env/bin/pip" install -q --disable-pip-version-check --no-deps open-clip-torch==3.3.0 >&2
  touch "$env/.complete"
fi
echo "$env"
