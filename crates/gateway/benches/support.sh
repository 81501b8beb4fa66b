# Shared by the benchmark scripts (sourced, not run): a light backend,
# zgate homes routing to it, and waiting for ports. Expects T (a temporary
# directory), the array PIDS (killed on exit) and, for `serve` and
# `prepare_home`, BIN (the zgate binary).

free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }

# Waits until something listens on 127.0.0.1:$1.
wait_port() { for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return; sleep 0.1; done; echo "nothing listens on $1"; exit 1; }

# nginx answering `return 200` on a free port (BPORT; its master process
# LIGHT_PID): a backend that costs almost nothing, so a proxy's own cost
# shows.
start_light_backend() {
  BPORT=$(free_port)
  mkdir -p "$T/light"
  cat > "$T/light/nginx.conf" <<NGX
worker_processes 1;
pid $T/light/nginx.pid;
error_log $T/light/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  server { listen 127.0.0.1:$BPORT; location / { return 200 "ok"; } }
}
NGX
  nginx -c "$T/light/nginx.conf" -p "$T/light" -g 'daemon off;' & PIDS+=($!)
  LIGHT_PID=$!
  wait_port "$BPORT"
}

# Starts `zgate serve` on HOME with the global options given; sets ZPORT
# and ZPID.
serve() { # home [global options...]
  local home=$1
  shift
  "$BIN" --home "$home" --set zgate.server.address=127.0.0.1 --set zgate.log.level=warn "$@" serve --port 0 > "$home.out" 2> "$home.err" & PIDS+=($!)
  ZPID=$!
  for _ in $(seq 100); do grep -q "listening on" "$home.out" 2>/dev/null && break; sleep 0.1; done
  ZPORT=$(grep -o 'localhost:[0-9]*' "$home.out" | head -1 | cut -d: -f2)
  [ -n "$ZPORT" ] || { echo "zgate did not start: $(cat "$home.err")"; exit 1; }
}

# A home routing `bench` (zoweJwt) to the light backend, with user BENCH
# (password BENCHPW1), started once (certificates, ESM, administrator) and
# stopped again.
prepare_home() { # home [global options...]
  local home=$1
  shift
  mkdir -p "$home/services"
  cat > "$home/services/bench.yml" <<YML
services:
  - serviceId: bench
    title: bench
    instanceBaseUrls: [http://127.0.0.1:$BPORT/]
    routes: [{gatewayUrl: api/v1, serviceRelativeUrl: /api/v1}]
    authentication: {scheme: zoweJwt}
YML
  serve "$home" "$@"
  kill "$ZPID"; wait "$ZPID" 2>/dev/null || true
  "$BIN" --home "$home" "$@" esm "ADDUSER BENCH PASSWORD(BENCHPW1) NOEXPIRED" >/dev/null
}

# BENCH's JWT from the gateway on port $1 (CA file $2).
bench_jwt() { # port ca
  curl -s -i --cacert "$2" -X POST -u BENCH:BENCHPW1 "https://localhost:$1/gateway/api/v1/auth/login" \
    | sed -n 's/^[Ss]et-[Cc]ookie: apimlAuthenticationToken=\([^;]*\).*/\1/p'
}
