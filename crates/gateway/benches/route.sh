#!/usr/bin/env bash
# Routed-request benchmark, loopback only, bounded (DURATION s per run): the
# same request, `Authorization: Bearer <zgate JWT>`, over four paths to one
# backend, in one run:
#   1. the backend directly (HTTP),
#   2. nginx as a TLS reverse proxy without authentication (2 workers,
#      keep-alive upstream),
#   3. HAProxy TLS verifying the JWT's RS256 signature on every request
#      (`jwt_verify`, 2 threads, keep-alive upstream),
#   4. zgate (zoweJwt scheme: the JWT verified, revocation checked, every
#      credential header stripped, the service's credential added).
# Over HTTP/1.1 from the client with wrk, then over HTTP/2 with h2load
# (nginx with http2 and keepalive_requests raised, HAProxy with alpn h2).
# Each line gives requests/s, p99 latency (wrk) and the CPU time the proxy
# process (nginx: master and workers) and the backend spent per request,
# read from /proc before and after the run; then the ratios of zgate to
# nginx and to HAProxy. Idle resident memory of zgate right after start is
# printed first.
#
# Usage: crates/gateway/benches/route.sh [DURATION=10] [CONNECTIONS=32] [THREADS=1] [ROUNDS=1]
# ZGATE_BENCH_BACKEND=light (default: nginx answering `return 200`, which
# costs almost nothing, so the proxies' own cost shows) or echo (the test
# backend, which echoes the request as JSON).
# With ZGATE_BASELINE=/path/to/another/zgate, that binary is measured too,
# in the same rounds, on a home of its own (before/after a change);
# ZGATE_BASELINE_ARGS adds global options to the baseline's command line
# (e.g. the same binary with `--set zgate.audit.enabled=false`).
set -euo pipefail
DURATION=${1:-10}; CONNS=${2:-32}; THREADS=${3:-1}; ROUNDS=${4:-1}
BACKEND_KIND=${ZGATE_BENCH_BACKEND:-light}
ROOT=$(cd "$(dirname "$0")/../../.." && pwd)
cd "$ROOT"
missing=()
command -v wrk     >/dev/null || missing+=(wrk)
command -v nginx   >/dev/null || missing+=(nginx-light)
command -v haproxy >/dev/null || missing+=(haproxy)
command -v h2load  >/dev/null || missing+=(nghttp2-client)
if ((${#missing[@]})); then
  apt-get install -y "${missing[@]}" >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y "${missing[@]}" >/dev/null; }
fi
cargo build --release -q -p zgate-cli -p zgate-testbackend
BIN=$ROOT/target/release
T=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$T"; }
trap cleanup EXIT

# shellcheck source=support.sh
. "$ROOT/crates/gateway/benches/support.sh"

if [ "$BACKEND_KIND" = echo ]; then
  "$BIN/zgate-test-backend" > "$T/backend.out" & PIDS+=($!)
  BACKEND_PIDS=$!
  for _ in $(seq 50); do [ -s "$T/backend.out" ] && break; sleep 0.1; done
  BPORT=$(awk '{print $3}' "$T/backend.out")
else
  start_light_backend
  BACKEND_PIDS="$LIGHT_PID $(pgrep -P "$LIGHT_PID" | tr '\n' ' ')"
fi

# Starts a zgate binary on a home of its own routing to the backend; sets
# ZPORT, ZPID, ZRSS (resident kB once listening) and JWT (an
# administrator's token from that gateway).
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
  # The first start creates the certificates, the ESM and the
  # administrator (hashing its password); the one measured is the next.
  local first
  for first in yes no; do
    "$bin" --home "$home" --set zgate.server.address=127.0.0.1 --set zgate.log.level=warn "$@" serve --port 0 > "$home.out" 2> "$home.err" & PIDS+=($!)
    ZPID=$!
    for _ in $(seq 100); do grep -q "listening on" "$home.out" 2>/dev/null && break; sleep 0.1; done
    [ $first = yes ] || break
    kill "$ZPID"; wait "$ZPID" 2>/dev/null || true
  done
  ZPORT=$(grep -o 'localhost:[0-9]*' "$home.out" | head -1 | cut -d: -f2)
  # Before the login, whose password hash takes memory of its own.
  ZRSS=$(awk '/VmRSS/ {print $2}' "/proc/$ZPID/status")
  local pw
  pw=$(cat "$home/initial-admin-password")
  JWT=$(curl -s -i --cacert "$home/keystore/local_ca/local_ca.cer" -X POST -u "ADMIN:$pw" \
    "https://localhost:$ZPORT/gateway/api/v1/auth/login" \
    | sed -n 's/^[Ss]et-[Cc]ookie: apimlAuthenticationToken=\([^;]*\).*/\1/p')
  [ -n "$JWT" ] || { echo "login failed ($bin)"; exit 1; }
}
HOME_DIR=$T/home
start_zgate "$BIN/zgate" "$HOME_DIR"
ZGATE_IDLE_RSS=$ZRSS
if [ -n "${ZGATE_BASELINE:-}" ]; then
  ZJWT=$JWT; ZPORT_NEW=$ZPORT; ZPID_NEW=$ZPID
  # shellcheck disable=SC2086 # the options are words
  start_zgate "$ZGATE_BASELINE" "$T/baseline" ${ZGATE_BASELINE_ARGS:-}
  BJWT=$JWT; BPORT_Z=$ZPORT; BPID=$ZPID
  JWT=$ZJWT; ZPORT=$ZPORT_NEW; ZPID=$ZPID_NEW
fi

# nginx and HAProxy: TLS with zgate's own server certificate, keep-alive upstream.
KS=$HOME_DIR/keystore/localhost/localhost.keystore
openssl pkcs12 -in "$KS.p12" -passin pass:password -nokeys -clcerts -out "$T/cert.pem" 2>/dev/null \
  || openssl pkcs12 -in "$KS.p12" -passin pass:password -nokeys -clcerts -legacy -out "$T/cert.pem"
openssl pkcs12 -in "$KS.p12" -passin pass:password -nocerts -nodes -out "$T/key.pem" 2>/dev/null \
  || openssl pkcs12 -in "$KS.p12" -passin pass:password -nocerts -nodes -legacy -out "$T/key.pem"
NPORT=$(free_port)
cat > "$T/nginx.conf" <<NGX
worker_processes 2;
pid $T/nginx.pid;
error_log $T/nginx.err warn;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  upstream backend { server 127.0.0.1:$BPORT; keepalive 64; }
  server {
    listen 127.0.0.1:$NPORT ssl http2;
    ssl_certificate $T/cert.pem; ssl_certificate_key $T/key.pem;
    location / { proxy_pass http://backend; proxy_http_version 1.1; proxy_set_header Connection ""; }
  }
}
NGX
nginx -c "$T/nginx.conf" -p "$T" -g 'daemon off;' & PIDS+=($!)
NGINX_PID=$!
wait_port "$NPORT"

# HAProxy verifies the JWT with zgate's public key (PEM) on every request.
curl -s --cacert "$HOME_DIR/keystore/local_ca/local_ca.cer" \
  "https://localhost:$ZPORT/gateway/api/v1/auth/keys/public" > "$T/jwt.pem"
grep -q "BEGIN PUBLIC KEY" "$T/jwt.pem" || { echo "no public key from zgate"; exit 1; }
JWT_ALG=$(python3 -c 'import base64,json,sys;h=sys.argv[1].split(".")[0];print(json.loads(base64.urlsafe_b64decode(h+"="*(-len(h)%4)))["alg"])' "$JWT")
cat "$T/cert.pem" "$T/key.pem" > "$T/haproxy.pem"
HPORT=$(free_port)
cat > "$T/haproxy.cfg" <<HAP
global
  nbthread 2
  tune.ssl.default-dh-param 2048
defaults
  mode http
  timeout connect 5s
  timeout client 60s
  timeout server 60s
  option http-keep-alive
frontend fe
  bind 127.0.0.1:$HPORT ssl crt $T/haproxy.pem alpn h2,http/1.1
  http-request set-var(txn.bearer) http_auth_bearer
  http-request set-var(txn.jwt_alg) var(txn.bearer),jwt_header_query('\$.alg')
  http-request deny content-type 'text/plain' string 'Unauthorized' unless { var(txn.jwt_alg) -m str $JWT_ALG } { var(txn.bearer),jwt_verify(txn.jwt_alg,"$T/jwt.pem") -m int 1 }
  default_backend be
backend be
  http-reuse always
  server s1 127.0.0.1:$BPORT
HAP
haproxy -f "$T/haproxy.cfg" -db > "$T/haproxy.out" 2>&1 & PIDS+=($!)
HAPROXY_PID=$!
wait_port "$HPORT"

AUTH="Authorization: Bearer $JWT"
# Each path must answer 200 to the request, and HAProxy must refuse a
# forged token, before anything is measured.
for url in "https://127.0.0.1:$NPORT/api/v1/hello" "https://127.0.0.1:$HPORT/api/v1/hello" "https://127.0.0.1:$ZPORT/bench/api/v1/hello"; do
  code=$(curl -sk -o /dev/null -w '%{http_code}' -H "$AUTH" "$url")
  [ "$code" = 200 ] || { echo "$url answered $code"; exit 1; }
done
FORGED=$(python3 -c 'import sys;h,p,s=sys.argv[1].split(".");i=len(s)//2;print(h+"."+p+"."+s[:i]+("A" if s[i]!="A" else "B")+s[i+1:])' "$JWT")
code=$(curl -sk -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $FORGED" "https://127.0.0.1:$HPORT/api/v1/hello")
[ "$code" = 403 ] || { echo "HAProxy let a forged token through ($code)"; exit 1; }

# CPU time (ms) of a process and its children threads/workers so far.
cpu_ms() { # pid...
  local total=0 p
  for p in "$@"; do
    [ -r "/proc/$p/stat" ] || continue
    total=$(( total + $(awk '{print $14 + $15}' "/proc/$p/stat") ))
  done
  echo $(( total * 1000 / $(getconf CLK_TCK) ))
}

# RSS (kB) of a process.
rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }

declare -A RPS
run() { # key name proxy-pids url
  local key=$1 name=$2 pids=$3 url=$4
  local out before after bbefore bafter rps p99 n
  before=$(cpu_ms $pids); bbefore=$(cpu_ms $BACKEND_PIDS)
  out=$(wrk -t"$THREADS" -c"$CONNS" -d"${DURATION}s" --latency -H "$AUTH" "$url")
  after=$(cpu_ms $pids); bafter=$(cpu_ms $BACKEND_PIDS)
  rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  p99=$(echo "$out" | awk '$1=="99%" {print $2}')
  n=$(echo "$out" | awk '/requests in/ {print $1}')
  if echo "$out" | grep -q "Non-2xx"; then echo "$name: non-2xx answers: $out"; exit 1; fi
  RPS[$key]=$rps
  printf '%-36s %10s req/s   p99 %-8s proxy CPU %s us/req   backend CPU %s us/req\n' "$name" "$rps" "$p99" \
    "$( [ -n "$pids" ] && echo $(( (after - before) * 1000000 / n / 1000 )) || echo -)" \
    "$(( (bafter - bbefore) * 1000000 / n / 1000 ))"
}
run_h2() { # key name proxy-pids url
  local key=$1 name=$2 pids=$3 url=$4
  local out before after rps n
  before=$(cpu_ms $pids)
  out=$(h2load -c"$CONNS" -m10 -t"$THREADS" -D "$DURATION" -H "$AUTH" "$url")
  after=$(cpu_ms $pids)
  rps=$(echo "$out" | awk '/^finished in/ {gsub(",","",$4); print $4}')
  n=$(echo "$out" | awk '/^requests:/ {print $8}')
  if ! echo "$out" | grep -q "status codes: [0-9]* 2xx, 0 3xx, 0 4xx, 0 5xx"; then echo "$name: $out"; exit 1; fi
  RPS[$key]=$rps
  printf '%-36s %10s req/s   proxy CPU %s us/req\n' "$name" "$rps" \
    "$(( n > 0 ? (after - before) * 1000000 / n / 1000 : 0 ))"
}
ratio() { python3 -c "import sys; a,b=float(sys.argv[1] or 0),float(sys.argv[2] or 0); print(f'{a/b:.2f}x' if b else '-')" "$1" "$2"; }

NGINX_PIDS="$NGINX_PID $(pgrep -P "$NGINX_PID" | tr '\n' ' ')"
echo "backend: $BACKEND_KIND; $(nproc) cores; $ROUNDS round(s); zgate idle RSS after start: $ZGATE_IDLE_RSS kB"
for round in $(seq "$ROUNDS"); do
  echo "-- HTTP/1.1: wrk -t$THREADS -c$CONNS -d${DURATION}s"
  run direct "backend direct (http)" "" "http://127.0.0.1:$BPORT/api/v1/hello"
  run nginx "nginx TLS, no authentication" "$NGINX_PIDS" "https://127.0.0.1:$NPORT/api/v1/hello"
  run haproxy "HAProxy TLS + jwt_verify $JWT_ALG" "$HAPROXY_PID" "https://127.0.0.1:$HPORT/api/v1/hello"
  run zgate "zgate TLS, JWT, zoweJwt" "$ZPID" "https://127.0.0.1:$ZPORT/bench/api/v1/hello"
  if [ -n "${ZGATE_BASELINE:-}" ]; then
    AUTH_Z=$AUTH; AUTH="Authorization: Bearer $BJWT"
    run baseline "baseline zgate TLS, JWT, zoweJwt" "$BPID" "https://127.0.0.1:$BPORT_Z/bench/api/v1/hello"
    AUTH=$AUTH_Z
  fi
  echo "   zgate/nginx $(ratio "${RPS[zgate]}" "${RPS[nginx]}")   zgate/HAProxy $(ratio "${RPS[zgate]}" "${RPS[haproxy]}")${ZGATE_BASELINE:+   zgate/baseline $(ratio "${RPS[zgate]}" "${RPS[baseline]}")}"
  echo "-- HTTP/2: h2load -c$CONNS -m10 -t$THREADS -D $DURATION"
  run_h2 nginx "nginx TLS h2, no authentication" "$NGINX_PIDS" "https://127.0.0.1:$NPORT/api/v1/hello"
  run_h2 haproxy "HAProxy TLS h2 + jwt_verify" "$HAPROXY_PID" "https://127.0.0.1:$HPORT/api/v1/hello"
  run_h2 zgate "zgate TLS h2, JWT, zoweJwt" "$ZPID" "https://127.0.0.1:$ZPORT/bench/api/v1/hello"
  echo "   zgate/nginx $(ratio "${RPS[zgate]}" "${RPS[nginx]}")   zgate/HAProxy $(ratio "${RPS[zgate]}" "${RPS[haproxy]}")"
done
echo "zgate RSS after the load: $(rss_kb "$ZPID") kB"
