#!/usr/bin/env bash
# Routed-request benchmark, loopback only, bounded (DURATION s per run):
# requests/s and p99 for the same echo backend reached
#   1. directly (HTTP),
#   2. through nginx as a TLS reverse proxy with keep-alive to the backend,
#   3. through zgate (zoweJwt scheme, caller authenticated by its JWT cookie).
# Usage: crates/gateway/benches/route.sh [DURATION=10] [CONNECTIONS=32] [THREADS=2] [ROUNDS=1]
# With ZGATE_BASELINE=/path/to/another/zgate, that binary is measured too,
# in the same rounds, on a home of its own (before/after a change);
# ZGATE_BASELINE_ARGS adds global options to the baseline's command line
# (e.g. the same binary with `--set zgate.audit.enabled=false`).
# Each line also gives the CPU time the proxy process (nginx: master and
# workers) and the backend spent per request, read from /proc before and
# after the run.
set -euo pipefail
DURATION=${1:-10}; CONNS=${2:-32}; THREADS=${3:-2}; ROUNDS=${4:-1}
ROOT=$(cd "$(dirname "$0")/../../.." && pwd)
cd "$ROOT"
if ! command -v wrk >/dev/null || ! command -v nginx >/dev/null; then
  apt-get install -y nginx-light wrk >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y nginx-light wrk >/dev/null; }
fi
cargo build --release -q -p zgate-cli -p zgate-testbackend
BIN=$ROOT/target/release
T=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$T"; }
trap cleanup EXIT

"$BIN/zgate-test-backend" > "$T/backend.out" & PIDS+=($!)
for _ in $(seq 50); do [ -s "$T/backend.out" ] && break; sleep 0.1; done
BPORT=$(awk '{print $3}' "$T/backend.out")

# Starts a zgate binary on a home of its own routing to the backend; sets
# ZPORT, ZPID and JWT (an administrator's token from that gateway).
start_zgate() { # binary home [global options...]
  local bin=$1 home=$2
  shift 2
  mkdir -p "$home/services"
  cat > "$home/services/bench.yml" <<YML
services:
  - serviceId: bench
    title: bench
    instanceBaseUrls: [http://127.0.0.1:$BPORT/]
    routes: [{gatewayUrl: api/v1, serviceRelativeUrl: /api/v1}]
    authentication: {scheme: zoweJwt}
YML
  "$bin" --home "$home" --set zgate.server.address=127.0.0.1 --set zgate.log.level=warn "$@" serve --port 0 > "$home.out" 2> "$home.err" & PIDS+=($!)
  ZPID=$!
  for _ in $(seq 100); do grep -q "listening on" "$home.out" 2>/dev/null && break; sleep 0.1; done
  ZPORT=$(grep -o 'localhost:[0-9]*' "$home.out" | head -1 | cut -d: -f2)
  local pw
  pw=$(cat "$home/initial-admin-password")
  JWT=$(curl -s -i --cacert "$home/keystore/local_ca/local_ca.cer" -X POST -u "ADMIN:$pw" \
    "https://localhost:$ZPORT/gateway/api/v1/auth/login" \
    | sed -n 's/^[Ss]et-[Cc]ookie: apimlAuthenticationToken=\([^;]*\).*/\1/p')
  [ -n "$JWT" ] || { echo "login failed ($bin)"; exit 1; }
}
HOME_DIR=$T/home
start_zgate "$BIN/zgate" "$HOME_DIR"
if [ -n "${ZGATE_BASELINE:-}" ]; then
  ZJWT=$JWT; ZPORT_NEW=$ZPORT; ZPID_NEW=$ZPID
  # shellcheck disable=SC2086 # the options are words
  start_zgate "$ZGATE_BASELINE" "$T/baseline" ${ZGATE_BASELINE_ARGS:-}
  BJWT=$JWT; BPORT_Z=$ZPORT; BPID=$ZPID
  JWT=$ZJWT; ZPORT=$ZPORT_NEW; ZPID=$ZPID_NEW
fi

# nginx: TLS with zgate's own server certificate, keep-alive upstream.
KS=$HOME_DIR/keystore/localhost/localhost.keystore
openssl pkcs12 -in "$KS.p12" -passin pass:password -nokeys -clcerts -out "$T/cert.pem" 2>/dev/null \
  || openssl pkcs12 -in "$KS.p12" -passin pass:password -nokeys -clcerts -legacy -out "$T/cert.pem"
openssl pkcs12 -in "$KS.p12" -passin pass:password -nocerts -nodes -out "$T/key.pem" 2>/dev/null \
  || openssl pkcs12 -in "$KS.p12" -passin pass:password -nocerts -nodes -legacy -out "$T/key.pem"
NPORT=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
cat > "$T/nginx.conf" <<NGX
worker_processes 2;
pid $T/nginx.pid;
error_log $T/nginx.err warn;
events { worker_connections 1024; }
http {
  access_log off;
  upstream backend { server 127.0.0.1:$BPORT; keepalive 64; }
  server {
    listen 127.0.0.1:$NPORT ssl;
    http2 off;
    ssl_certificate $T/cert.pem; ssl_certificate_key $T/key.pem;
    location / { proxy_pass http://backend; proxy_http_version 1.1; proxy_set_header Connection ""; }
  }
}
NGX
sed -i 's/^    http2 off;$//' "$T/nginx.conf"
nginx -c "$T/nginx.conf" -p "$T" -g 'daemon off;' & PIDS+=($!)
sleep 0.5

COOKIE="Cookie: apimlAuthenticationToken=$JWT"
NGINX_PID=${PIDS[-1]}
BACKEND_PID=${PIDS[0]}

# CPU time (ms) of a process and its children threads/workers so far.
cpu_ms() { # pid...
  local total=0 p
  for p in "$@"; do
    [ -r "/proc/$p/stat" ] || continue
    total=$(( total + $(awk '{print $14 + $15}' "/proc/$p/stat") ))
  done
  echo $(( total * 1000 / $(getconf CLK_TCK) ))
}

run() { # name proxy-pids url [header]
  local name=$1 pids=$2 url=$3; shift 3
  local out before after bbefore bafter
  before=$(cpu_ms $pids); bbefore=$(cpu_ms "$BACKEND_PID")
  out=$(wrk -t"$THREADS" -c"$CONNS" -d"${DURATION}s" --latency "$@" "$url")
  after=$(cpu_ms $pids); bafter=$(cpu_ms "$BACKEND_PID")
  local rps p99 n
  rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  p99=$(echo "$out" | awk '$1=="99%" {print $2}')
  n=$(echo "$out" | awk '/requests in/ {print $1}')
  # Proxy CPU per request: what the proxy itself spends, independent of how
  # the machine's other load shares the cores.
  printf '%-34s %10s req/s   p99 %-8s proxy CPU %s us/req   backend CPU %s us/req\n' "$name" "$rps" "$p99" \
    "$( [ -n "$pids" ] && echo $(( (after - before) * 1000000 / n / 1000 )) || echo -)" \
    "$(( (bafter - bbefore) * 1000000 / n / 1000 ))"
}
echo "wrk -t$THREADS -c$CONNS -d${DURATION}s, loopback, $(nproc) cores, $ROUNDS round(s)"
for round in $(seq "$ROUNDS"); do
  # The same request everywhere: nginx and the backend get the cookie too,
  # so every backend receives (and echoes) the same headers.
  run "backend direct (http)" "" "http://127.0.0.1:$BPORT/api/v1/hello" -H "$COOKIE"
  run "nginx TLS -> backend (keep-alive)" "$NGINX_PID $(pgrep -P "$NGINX_PID" | tr '\n' ' ')" "https://127.0.0.1:$NPORT/api/v1/hello" -H "$COOKIE"
  run "zgate TLS zoweJwt (JWT cookie)" "$ZPID" "https://127.0.0.1:$ZPORT/bench/api/v1/hello" -H "$COOKIE"
  if [ -n "${ZGATE_BASELINE:-}" ]; then
    run "baseline zgate TLS zoweJwt" "$BPID" "https://127.0.0.1:$BPORT_Z/bench/api/v1/hello" \
      -H "Cookie: apimlAuthenticationToken=$BJWT"
  fi
done
