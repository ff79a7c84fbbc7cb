#!/usr/bin/env bash
# The demo's frames/s at several commits, measured the same way on this machine, one after the
# other: each commit is checked out into a temporary worktree (its own code, bundle and
# topologies/demo.yaml), built, and `node bin/ogclip.js run topologies/demo.yaml` is run there;
# its summary gives frames/s, precision and recall. The worktrees share this clone's
# node_modules (a commit whose dependencies differ would need its own install).
#   scripts/demo-fps.sh [--out bench/results/demo-fps.json] <commit>...
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out="$root/bench/results/demo-fps.json"
if [ "${1:-}" = "--out" ]; then out=$(realpath -m "$2"); shift 2; fi
[ $# -ge 1 ] || { echo "usage: scripts/demo-fps.sh [--out file.json] <commit>..." >&2; exit 2; }
work=$(mktemp -d)
trap 'cd "$root"; for d in "$work"/*/; do git worktree remove --force "$d" >/dev/null 2>&1 || true; done; rm -rf "$work"' EXIT
rows=()
for ref in "$@"; do
  sha=$(git -C "$root" rev-parse --short "$ref")
  dir="$work/$sha"
  git -C "$root" worktree add --detach "$dir" "$sha" >/dev/null
  ln -s "$root/node_modules" "$dir/node_modules"
  (cd "$dir" && npx tsc -p tsconfig.json >/dev/null)
  echo "demo-fps: $ref ($sha): running the demo" >&2
  if ! (cd "$dir" && node bin/ogclip.js run topologies/demo.yaml >"$work/$sha.log" 2>&1); then
    echo "demo-fps: the demo failed at $ref ($sha):" >&2
    tail -20 "$work/$sha.log" >&2
    exit 1
  fi
  rows+=("$(cd "$dir" && node -e '
    const s = require("./out/summary.json");
    const [ref, sha] = process.argv.slice(1);
    console.log(JSON.stringify({ ref, commit: sha, frames: s.frames, seconds: +s.seconds.toFixed(1),
      frames_per_second: +s.frames_per_second.toFixed(3), precision: +s.precision.toFixed(4), recall: +s.recall.toFixed(4) }));
  ' "$ref" "$sha")")
  echo "demo-fps: ${rows[-1]}" >&2
done
mkdir -p "$(dirname "$out")"
node -e '
  const [out, cmd, ...rows] = process.argv.slice(1);
  const runs = rows.map((r) => JSON.parse(r));
  const result = { command: cmd, date: new Date().toISOString(), machine: `${require("os").availableParallelism()} CPU cores`,
    runs, speedup_last_vs_first: +(runs.at(-1).frames_per_second / runs[0].frames_per_second).toFixed(2) };
  require("fs").writeFileSync(out, JSON.stringify(result, null, 2) + "\n");
  console.log(JSON.stringify(result, null, 2));
' "$out" "scripts/demo-fps.sh $*" "${rows[@]}"
