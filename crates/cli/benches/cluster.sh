#!/usr/bin/env bash
# Cluster benchmark, loopback only, one run: logons/s and JWT-authenticated
# routed requests/s of
#   1. one `zgate serve` on the embedded SQLite store,
#   2. one on a PostgreSQL database,
#   3. three on that database behind HAProxy (TLS passthrough, as README's
#      high-availability section lays out),
# all routing to the same light backend (nginx answering `return 200`).
# Logons are `POST /gateway/api/v1/auth/login` with Basic credentials: an
# argon2id hash each (the default cost) and, on PostgreSQL, a commit under
# the cluster's commit lock. Routed requests carry a zgate JWT to a zoweJwt
# service. On a 2-core machine the three gateways, HAProxy, the backend and
# the load generator share the same cores: the third line shows what the
# layout costs, not what three machines would give.
#
# Usage: crates/cli/benches/cluster.sh [DURATION=10] [CONNECTIONS=32]
# The PostgreSQL server is ZGATE_BENCH_POSTGRES (an admin URL without a
# database), default postgres://postgres@127.0.0.1:5432.
set -euo pipefail
DURATION=${1:-10}; CONNS=${2:-32}
PG=${ZGATE_BENCH_POSTGRES:-postgres://postgres@127.0.0.1:5432}
ROOT=$(cd "$(dirname "$0")/../../.." && pwd)
cd "$ROOT"
missing=()
command -v wrk     >/dev/null || missing+=(wrk)
command -v nginx   >/dev/null || missing+=(nginx-light)
command -v haproxy >/dev/null || missing+=(haproxy)
command -v psql    >/dev/null || missing+=(postgresql-client)
if ((${#missing[@]})); then
  apt-get install -y "${missing[@]}" >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y "${missing[@]}" >/dev/null; }
fi
cargo build --release -q -p zgate-cli
BIN=$ROOT/target/release/zgate
T=$(mktemp -d)
DB=zgate_bench_$$
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  psql -q "$PG/postgres" -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$T"
}
trap cleanup EXIT
psql -q "$PG/postgres" -c "CREATE DATABASE $DB" >/dev/null

# shellcheck source=../../gateway/benches/support.sh
. "$ROOT/crates/gateway/benches/support.sh"
start_light_backend

CA=
LOGON_HEADER="Authorization: Basic $(printf 'BENCH:BENCHPW1' | base64)"
measure() { # name port
  local name=$1 port=$2 jwt logons routed
  jwt=$(bench_jwt "$port" "$CA")
  [ -n "$jwt" ] || { echo "$name: login failed"; exit 1; }
  code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$CA" -H "Authorization: Bearer $jwt" "https://localhost:$port/bench/api/v1/hello")
  [ "$code" = 200 ] || { echo "$name: the route answered $code"; exit 1; }
  cat > "$T/login.lua" <<LUA
wrk.method = "POST"
wrk.headers["$(echo "$LOGON_HEADER" | cut -d: -f1)"] = "$(echo "$LOGON_HEADER" | cut -d' ' -f2-)"
LUA
  out=$(wrk -t1 -c8 -d"${DURATION}s" -s "$T/login.lua" "https://localhost:$port/gateway/api/v1/auth/login")
  if echo "$out" | grep -q "Non-2xx"; then echo "$name: failed logons: $out"; exit 1; fi
  logons=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  out=$(wrk -t1 -c"$CONNS" -d"${DURATION}s" --latency -H "Authorization: Bearer $jwt" "https://localhost:$port/bench/api/v1/hello")
  if echo "$out" | grep -q "Non-2xx"; then echo "$name: non-2xx routed answers: $out"; exit 1; fi
  routed=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  p99=$(echo "$out" | awk '$1=="99%" {print $2}')
  printf '%-44s logons %8s/s   routed %10s req/s (p99 %s)\n' "$name" "$logons" "$routed" "$p99"
}

# 1. SQLite.
prepare_home "$T/sqlite"
serve "$T/sqlite"
CA=$T/sqlite/keystore/local_ca/local_ca.cer
measure "one gateway, SQLite" "$ZPORT"
kill "${PIDS[-1]}"

# 2. PostgreSQL, one gateway.
STORE=(--set "zgate.store=$PG/$DB")
prepare_home "$T/a" "${STORE[@]}"
for n in b c; do cp -a "$T/a" "$T/$n"; rm -rf "$T/$n/audit"; done
CA=$T/a/keystore/local_ca/local_ca.cer
serve "$T/a" "${STORE[@]}"; PORT_A=$ZPORT
measure "one gateway, PostgreSQL" "$PORT_A"

# 3. Three on PostgreSQL behind HAProxy.
serve "$T/b" "${STORE[@]}"; PORT_B=$ZPORT
serve "$T/c" "${STORE[@]}"; PORT_C=$ZPORT
LB=$(free_port)
cat > "$T/haproxy.cfg" <<CFG
global
  maxconn 4096
  nbthread 2
defaults
  mode tcp
  timeout connect 2s
  timeout client 60s
  timeout server 60s
  retries 3
  option redispatch
frontend zgate
  bind 127.0.0.1:$LB
  default_backend gateways
backend gateways
  balance roundrobin
  option httpchk GET /application/health
  http-check expect status 200
  server a 127.0.0.1:$PORT_A check check-ssl verify none inter 1s
  server b 127.0.0.1:$PORT_B check check-ssl verify none inter 1s
  server c 127.0.0.1:$PORT_C check check-ssl verify none inter 1s
CFG
haproxy -db -f "$T/haproxy.cfg" >/dev/null 2>&1 & PIDS+=($!)
wait_port "$LB"
sleep 2
measure "three gateways, PostgreSQL, HAProxy passthrough" "$LB"
echo "($(nproc) cores; wrk -t1: logons -c8, routed -c$CONNS, ${DURATION}s each)"
