#!/usr/bin/env bash
# The model factory's tests alone (npm run test:python); `npm test` runs them with everything else.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
py=$("$root/scripts/python-env.sh")
cd "$root/training"
exec "$py/bin/python" -m pytest -p no:cacheprovider "$@"
