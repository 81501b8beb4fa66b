#!/usr/bin/env bash
# Requests/s of the same endpoint (POST /gateway/auth/check) authenticated
# three ways, one run, against a release `zgate serve` on loopback:
# a gateway JWT (Bearer), a personal access token (PRIVATE-TOKEN), and a
# client certificate mapped by the ESM (RACDCERT MAP).
#
#   cargo build --release -p zgate-cli
#   crates/gateway/benches/auth_load.sh [ZGATE_BINARY] [SECONDS] [CONNECTIONS]
#
# wrk cannot present a client certificate, so the comparison runs twice:
# wrk → zgate directly for JWT and PAT, and wrk → nginx (plain HTTP, one
# worker, keep-alive upstream) → zgate over TLS for all three, where nginx
# presents the client certificate (proxy_ssl_certificate). The second table
# is the like-for-like one for the certificate. Needs wrk and nginx.
# Bounded: fixed durations; the server and nginx are stopped by their PIDs.
set -euo pipefail

root=$(cd "$(dirname "$0")/../../.." && pwd)
zgate=${1:-$root/target/release/zgate}
seconds=${2:-10}
connections=${3:-32}
threads=2
for tool in wrk nginx curl; do
  command -v "$tool" >/dev/null || [ -x "/usr/sbin/$tool" ] || { echo "$tool is needed" >&2; exit 2; }
done
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$zgate" ] || { echo "no zgate binary at $zgate (cargo build --release -p zgate-cli)" >&2; exit 2; }

work=$(mktemp -d)
home=$work/home
pid=
nginx_pid=
cleanup() {
  if [ -n "$nginx_pid" ] && kill -0 "$nginx_pid" 2>/dev/null; then kill -TERM "$nginx_pid"; wait "$nginx_pid" 2>/dev/null || true; fi
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then kill -TERM "$pid"; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
port=$(free_port)
proxy_port=$(free_port)
url=https://localhost:$port
ca=$home/keystore/local_ca/local_ca.cer

"$zgate" --home "$home" \
  --set zgate.server.address=127.0.0.1 --set zgate.log.level=warn \
  --set components.gateway.apiml.security.x509.enabled=true \
  --set components.gateway.apiml.security.personalAccessToken.enabled=true \
  serve --port "$port" >"$work/stdout" 2>"$work/stderr" &
pid=$!
for _ in $(seq 1 2000); do
  if [ -f "$ca" ] && curl -s -o /dev/null --cacert "$ca" --max-time 1 "$url/application/health" 2>/dev/null; then break; fi
  sleep 0.01
done

map=$("$zgate" --home "$home" cert client --user admin --out "$work/clients" | sed -n 's/^ *\(RACDCERT MAP .*\)$/\1/p')
cert=$(find "$work/clients" -name '*.cer' | head -n 1)
key=$(find "$work/clients" -name '*.key' | head -n 1)
"$zgate" --home "$home" esm -f - >/dev/null <<EOF
SETROPTS CLASSACT(ZOWE) GENERIC(ZOWE)
RDEFINE ZOWE APIML.** UACC(NONE)
PERMIT APIML.** CLASS(ZOWE) ID(ADMIN) ACCESS(READ)
$map
EOF
sleep 2 # the gateway reloads the ESM every second

password=$(cat "$home/initial-admin-password")
jwt=$(curl -s -i --cacert "$ca" -X POST -u "ADMIN:$password" "$url/gateway/api/v1/auth/login" |
  tr -d '\r' | sed -n 's/^[Ss]et-[Cc]ookie: apimlAuthenticationToken=\([^;]*\);.*/\1/p')
pat=$(curl -s --cacert "$ca" -X POST -u "ADMIN:$password" -H 'Content-Type: application/json' \
  -d '{"validity":1,"scopes":["gateway"]}' "$url/gateway/api/v1/auth/access-token/generate")
body='{"resourceClass":"ZOWE","resourceName":"APIML.SERVICES","accessLevel":"READ"}'
expect204() { # curl args...
  local code
  code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$ca" -X POST -H 'Content-Type: application/json' -d "$body" "$@" "$url/gateway/auth/check")
  [ "$code" = 204 ] || { echo "check answered $code for $*, expected 204" >&2; cat "$work/stderr" >&2; exit 1; }
}
expect204 -H "Authorization: Bearer $jwt"
expect204 -H "PRIVATE-TOKEN: $pat"
expect204 --cert "$cert" --key "$key"

cat >"$work/check.lua" <<EOF
wrk.method = "POST"
wrk.body   = '$body'
wrk.headers["Content-Type"] = "application/json"
EOF

run_wrk() { # label, target url, extra wrk args...
  local name=$1 target=$2; shift 2
  local out rps requests non2xx p50 p99
  out=$(wrk -t"$threads" -c"$connections" -d"${seconds}s" --latency -s "$work/check.lua" "$@" "$target")
  rps=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
  requests=$(awk '/requests in/ {print $1}' <<<"$out")
  non2xx=$(awk '/Non-2xx/ {print $NF}' <<<"$out")
  p50=$(awk '$1=="50%" {print $2}' <<<"$out")
  p99=$(awk '$1=="99%" {print $2}' <<<"$out")
  printf '  %-28s %10s req/s  (%s requests, p50 %s, p99 %s, non-2xx %s)\n' \
    "$name" "$rps" "$requests" "$p50" "$p99" "${non2xx:-0}"
}

echo "POST /gateway/auth/check by credential ($(nproc) cores, wrk -t$threads -c$connections -d${seconds}s)"
echo "direct (wrk → zgate, TLS 1.3, keep-alive):"
run_wrk "JWT (Bearer)" "$url/gateway/auth/check" -H "Authorization: Bearer $jwt"
run_wrk "PAT (PRIVATE-TOKEN)" "$url/gateway/auth/check" -H "PRIVATE-TOKEN: $pat"

mkdir -p "$work/nginx"
cat >"$work/nginx/nginx.conf" <<EOF
worker_processes 1;
daemon off;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  upstream zgate { server 127.0.0.1:$port; keepalive 64; }
  server {
    listen 127.0.0.1:$proxy_port;
    location / {
      proxy_pass https://zgate;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_ssl_server_name on;
      proxy_ssl_name localhost;
      proxy_ssl_trusted_certificate $ca;
      proxy_ssl_verify on;
      proxy_ssl_session_reuse on;
      proxy_ssl_certificate $cert;
      proxy_ssl_certificate_key $key;
    }
  }
}
EOF
"$nginx_bin" -p "$work/nginx" -c "$work/nginx/nginx.conf" &
nginx_pid=$!
proxy=http://127.0.0.1:$proxy_port/gateway/auth/check
for _ in $(seq 1 500); do
  curl -s -o /dev/null "http://127.0.0.1:$proxy_port/application/health" 2>/dev/null && break
  sleep 0.01
done
# Through the proxy the certificate is always presented; JWT and PAT win over it (spec order).
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' -d "$body" "$proxy")
[ "$code" = 204 ] || { echo "certificate through nginx answered $code" >&2; cat "$work/nginx/error.log" >&2; exit 1; }
echo "through nginx (wrk → nginx HTTP → zgate TLS with the client certificate, keep-alive upstream):"
run_wrk "JWT (Bearer)" "$proxy" -H "Authorization: Bearer $jwt"
run_wrk "PAT (PRIVATE-TOKEN)" "$proxy" -H "PRIVATE-TOKEN: $pat"
run_wrk "client certificate" "$proxy"
