#!/usr/bin/env bash
# Every test of the project: TypeScript build + ava (unit, stages, end to end, Kafka against a
# real broker this script starts on free loopback ports) and the model factory's pytest suite.
# Ends with one line "N passed, N failed".
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
log=$(mktemp -d)
status=0

npm run -s lint || exit 1
npm run -s build || exit 1

echo "== model factory (pytest)"
py=$(scripts/python-env.sh) || exit 1
(cd training && "$py/bin/python" -m pytest -p no:cacheprovider) 2>&1 | tee "$log/pytest.txt"
[ "${PIPESTATUS[0]}" -eq 0 ] || status=1

echo "== Chromium for the browser tests (Debian's package; playwright-core never downloads one)"
if [ ! -x /usr/bin/chromium ]; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo -n"
  { $sudo apt-get install -y --no-install-recommends chromium || { $sudo apt-get update && $sudo apt-get install -y --no-install-recommends chromium; }; } \
    >"$log/chromium.txt" 2>&1 || { echo "cannot install Debian's chromium package:"; tail -20 "$log/chromium.txt"; exit 1; }
fi
/usr/bin/chromium --version

echo "== Kafka broker for the integration tests"
scripts/kafka/fetch.sh || exit 1
port=""
for _ in $(seq 1 50); do
  p=$((20000 + RANDOM % 20000))
  if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && ! (exec 3<>"/dev/tcp/127.0.0.1/$((p + 1))") 2>/dev/null; then port=$p; break; fi
done
[ -n "$port" ] || { echo "no free port pair for Kafka"; exit 1; }
data=$(mktemp -d)
setsid scripts/kafka/start-broker.sh "$port" "$data" >"$log/kafka.txt" 2>&1 &
broker=$!
trap 'kill -TERM -- -$broker 2>/dev/null; wait $broker 2>/dev/null; rm -rf "$data" "$log"' EXIT
for _ in $(seq 1 120); do
  grep -q "Kafka Server started" "$log/kafka.txt" && break
  kill -0 $broker 2>/dev/null || { cat "$log/kafka.txt"; exit 1; }
  sleep 1
done
grep -q "Kafka Server started" "$log/kafka.txt" || { echo "broker did not start"; cat "$log/kafka.txt"; exit 1; }
echo "broker on 127.0.0.1:$port"

echo "== pipeline (ava)"
OGCLIP_TEST_KAFKA="127.0.0.1:$port" npx ava --tap 2>&1 | tee "$log/ava.txt"
[ "${PIPESTATUS[0]}" -eq 0 ] || status=1

ava_ok=$(grep -cE '^ok ' "$log/ava.txt")
ava_fail=$(grep -cE '^not ok ' "$log/ava.txt")
py_ok=$(grep -oE '[0-9]+ passed' "$log/pytest.txt" | tail -1 | grep -oE '[0-9]+' || echo 0)
py_fail=$(grep -oE '[0-9]+ failed' "$log/pytest.txt" | tail -1 | grep -oE '[0-9]+' || echo 0)
echo "ava: $ava_ok passed, $ava_fail failed; pytest: $py_ok passed, $py_fail failed"
echo "$((ava_ok + py_ok)) passed, $((ava_fail + py_fail)) failed"
exit $status
