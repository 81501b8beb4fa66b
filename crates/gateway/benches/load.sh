#!/usr/bin/env bash
# Load figures for the gateway, measured against a release `zgate serve` on
# loopback only. Bounded: each wrk run has a fixed duration, the server is
# stopped at the end (by its PID), everything lives in a temporary home.
#
#   cargo build --release -p zgate-cli
#   crates/gateway/benches/load.sh [ZGATE_BINARY] [SECONDS] [CONNECTIONS]
#
# Prints: cold start (empty home: certificates, ESM, admin) and warm start to
# the first answered request; requests/s of GET /gateway/api/v1/auth/query with
# a valid token and of POST /gateway/auth/check (keep-alive, wrk); resident
# memory after at least 100 000 requests.
set -euo pipefail

root=$(cd "$(dirname "$0")/../../.." && pwd)
zgate=${1:-$root/target/release/zgate}
seconds=${2:-10}
connections=${3:-32}
threads=2
command -v wrk >/dev/null || { echo "wrk is needed (apt-get install wrk)" >&2; exit 2; }
[ -x "$zgate" ] || { echo "no zgate binary at $zgate (cargo build --release -p zgate-cli)" >&2; exit 2; }

work=$(mktemp -d)
home=$work/home
pid=
cleanup() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"
    wait "$pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
url=https://localhost:$port
ca=$home/keystore/local_ca/local_ca.cer

now_ms() { date +%s%3N; }

# Starts the server; sets $pid and $started_ms (milliseconds to the first
# answered request). Not run in a subshell, so $pid is kept.
start() {
  local t0 t1
  t0=$(now_ms)
  "$zgate" --home "$home" --set zgate.server.address=127.0.0.1 --set zgate.log.level=warn \
    serve --port "$port" >"$work/stdout" 2>"$work/stderr" &
  pid=$!
  for _ in $(seq 1 2000); do
    if [ -f "$ca" ] && curl -s -o /dev/null --cacert "$ca" --max-time 1 "$url/application/health" 2>/dev/null; then
      t1=$(now_ms)
      started_ms=$((t1 - t0))
      return 0
    fi
    sleep 0.005
  done
  echo "zgate did not start" >&2
  cat "$work/stderr" >&2
  exit 1
}

stop() {
  kill -TERM "$pid"
  wait "$pid" 2>/dev/null || true
  pid=
}

start
cold_ms=$started_ms
stop
"$zgate" --home "$home" esm -f - >/dev/null 2>&1 <<'EOF'
SETROPTS CLASSACT(ZOWE) GENERIC(ZOWE)
RDEFINE ZOWE APIML.** UACC(NONE)
PERMIT APIML.** CLASS(ZOWE) ID(ADMIN) ACCESS(READ)
EOF
start
warm_ms=$started_ms

password=$(cat "$home/initial-admin-password")
token=$(curl -s -i --cacert "$ca" -X POST -u "ADMIN:$password" "$url/gateway/api/v1/auth/login" |
  tr -d '\r' | sed -n 's/^[Ss]et-[Cc]ookie: apimlAuthenticationToken=\([^;]*\);.*/\1/p')
[ -n "$token" ] || { echo "login failed" >&2; exit 1; }

cat >"$work/check.lua" <<'EOF'
wrk.method = "POST"
wrk.body   = '{"resourceClass":"ZOWE","resourceName":"APIML.SERVICES","accessLevel":"READ"}'
wrk.headers["Content-Type"] = "application/json"
EOF
# The check must answer 204 for the figures to mean anything.
code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$ca" -X POST -H "Authorization: Bearer $token" \
  -H 'Content-Type: application/json' \
  -d '{"resourceClass":"ZOWE","resourceName":"APIML.SERVICES","accessLevel":"READ"}' "$url/gateway/auth/check")
[ "$code" = 204 ] || { echo "SAF check answered $code, expected 204" >&2; exit 1; }

total=0
run_wrk() { # name, extra args...
  local name=$1; shift
  local out
  out=$(wrk -t"$threads" -c"$connections" -d"${seconds}s" --latency -H "Authorization: Bearer $token" "$@")
  local rps requests non2xx p50 p99
  rps=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
  requests=$(awk '/requests in/ {print $1}' <<<"$out")
  non2xx=$(awk '/Non-2xx/ {print $NF}' <<<"$out")
  p50=$(awk '$1=="50%" {print $2}' <<<"$out")
  p99=$(awk '$1=="99%" {print $2}' <<<"$out")
  total=$((total + requests))
  printf '%-34s %10s req/s  (%s requests, p50 %s, p99 %s, non-2xx %s)\n' \
    "$name" "$rps" "$requests" "$p50" "$p99" "${non2xx:-0}"
}

echo "zgate load figures ($(nproc) cores, wrk -t$threads -c$connections -d${seconds}s, TLS 1.3, keep-alive)"
printf '%-34s %10s ms\n' "start-up, empty home (cold)" "$cold_ms"
printf '%-34s %10s ms\n' "start-up, existing home (warm)" "$warm_ms"
run_wrk "GET  /gateway/api/v1/auth/query" "$url/gateway/api/v1/auth/query"
run_wrk "POST /gateway/auth/check" -s "$work/check.lua" "$url/gateway/auth/check"
while [ "$total" -lt 100000 ]; do
  run_wrk "GET  query (to reach 100k)" "$url/gateway/api/v1/auth/query"
done
rss_kb=$(awk '/^VmRSS/ {print $2}' "/proc/$pid/status")
hwm_kb=$(awk '/^VmHWM/ {print $2}' "/proc/$pid/status")
printf '%-34s %10s MiB (peak %s MiB) after %s requests\n' "resident memory" \
  "$((rss_kb / 1024))" "$((hwm_kb / 1024))" "$total"
checks=$(curl -s --cacert "$ca" "$url/application/metrics" | awk '/^zgate_token_signature_checks_total/ {print $2}')
printf '%-34s %10s (for %s token-authenticated requests)\n' "JWT signature verifications" "$checks" "$total"
