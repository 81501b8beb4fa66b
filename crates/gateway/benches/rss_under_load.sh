#!/usr/bin/env bash
# Resident memory of `zgate serve` under a long load: JWT-authenticated
# requests routed (zoweJwt) to a light backend (nginx `return 200`) with
# wrk for MINUTES, VmRSS sampled every 30 s. Prints each sample, then the
# spread of the samples after the first minute (warm-up) relative to their
# median: the "flat within ±5 %" question.
#
# Usage: crates/gateway/benches/rss_under_load.sh [MINUTES=10] [CONNECTIONS=32]
set -euo pipefail
MINUTES=${1:-10}; CONNS=${2:-32}
ROOT=$(cd "$(dirname "$0")/../../.." && pwd)
cd "$ROOT"
missing=()
command -v wrk   >/dev/null || missing+=(wrk)
command -v nginx >/dev/null || missing+=(nginx-light)
if ((${#missing[@]})); then
  apt-get install -y "${missing[@]}" >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y "${missing[@]}" >/dev/null; }
fi
cargo build --release -q -p zgate-cli
BIN=$ROOT/target/release/zgate
T=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$T"; }
trap cleanup EXIT
# shellcheck source=support.sh
. "$ROOT/crates/gateway/benches/support.sh"
start_light_backend
prepare_home "$T/home"
serve "$T/home"
JWT=$(bench_jwt "$ZPORT" "$T/home/keystore/local_ca/local_ca.cer")
[ -n "$JWT" ] || { echo "login failed"; exit 1; }
rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$ZPID/status"; }
echo "idle after start and one logon: $(rss_kb) kB"
SECONDS_TOTAL=$((MINUTES * 60))
wrk -t1 -c"$CONNS" -d"${SECONDS_TOTAL}s" -H "Authorization: Bearer $JWT" \
  "https://localhost:$ZPORT/bench/api/v1/hello" > "$T/wrk.out" & PIDS+=($!)
WRK=$!
: > "$T/samples"
for ((t = 30; t <= SECONDS_TOTAL; t += 30)); do
  sleep 30
  r=$(rss_kb)
  echo "$t $r" >> "$T/samples"
  printf '%5d s  %8d kB\n' "$t" "$r"
done
wait "$WRK" || true
grep -E "Requests/sec|Non-2xx" "$T/wrk.out" || true
python3 - "$T/samples" <<'PY'
import statistics, sys
rows = [tuple(map(int, l.split())) for l in open(sys.argv[1]) if l.strip()]
after = [r for t, r in rows if t > 60]
m = statistics.median(after)
lo, hi = min(after), max(after)
print(f"after the first minute: median {m:.0f} kB, min {lo} kB ({(lo - m) / m * 100:+.1f} %), max {hi} kB ({(hi - m) / m * 100:+.1f} %)")
PY
