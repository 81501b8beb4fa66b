#!/usr/bin/env bash
# The test command: installs what the tests need on a fresh machine, then runs
# everything (format, lints, every crate's tests). Nothing outside the repo is
# cached: tools the tests drive live in .tools/ (git-ignored).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

# System tools the interop tests drive: keytool (JDK), openssl, oathtool,
# curl, HAProxy.
missing=()
command -v keytool  >/dev/null || missing+=(default-jre-headless)
command -v openssl  >/dev/null || missing+=(openssl)
command -v oathtool >/dev/null || missing+=(oathtool)
command -v curl     >/dev/null || missing+=(curl)
command -v node     >/dev/null || missing+=(nodejs npm)
# HAProxy in front of three gateways (the cluster test).
command -v haproxy  >/dev/null || missing+=(haproxy)
# PostgreSQL for the ESM's shared store tests: a server on 127.0.0.1:5432,
# or initdb/pg_ctl for the tests to start a private one (Debian's package).
if ! (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null &&
   ! command -v initdb >/dev/null &&
   ! compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null; then
  missing+=(postgresql)
fi
if ((${#missing[@]})); then
  echo "== installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# Zowe CLI, the real client of the REST contract, into a project-local folder.
zowe_version=8.37.1
if [ ! -x .tools/node/node_modules/.bin/zowe ] ||
   ! grep -q "\"version\": \"$zowe_version\"" .tools/node/node_modules/@zowe/cli/package.json 2>/dev/null; then
  echo "== installing @zowe/cli@$zowe_version into .tools/node"
  mkdir -p .tools/node
  npm install --silent --no-audit --no-fund --prefix .tools/node "@zowe/cli@$zowe_version" >/dev/null
fi
export ZGATE_TEST_ZOWE_CLI="$root/.tools/node/node_modules/.bin/zowe"

# oidc-provider (panva's certified OpenID provider), whose access tokens
# crates/auth/tests/tokens_of_a_real_provider.rs checks, into the same folder.
oidc_provider_version=9.13.3
if ! grep -q "\"version\": \"$oidc_provider_version\"" .tools/node/node_modules/oidc-provider/package.json 2>/dev/null; then
  echo "== installing oidc-provider@$oidc_provider_version into .tools/node"
  mkdir -p .tools/node
  npm install --silent --no-audit --no-fund --save-exact --prefix .tools/node "oidc-provider@$oidc_provider_version" >/dev/null
fi
export ZGATE_TEST_NODE_MODULES="$root/.tools/node/node_modules"

if ! command -v cargo-nextest >/dev/null; then
  echo "== installing cargo-nextest"
  cargo install --locked cargo-nextest
fi

# One build per run: incremental artifacts would only take disk.
export CARGO_INCREMENTAL=0

echo "== cargo fmt"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "== cargo nextest"
# The routing tests start real backend processes: build that binary first.
cargo build --locked -q -p zgate-testbackend
cargo nextest run --workspace --locked --no-fail-fast
echo "== the ESM's tests again, on PostgreSQL"
ZGATE_TEST_STORE=postgres cargo nextest run -p zgate-esm --locked --no-fail-fast
