#!/usr/bin/env bash
# Prints one sha256 over every source file that goes into the runtime wasm and the
# chain spec (Rust sources, manifests, lock file). The committed chain spec records
# the hash it was built from; CI recomputes it so the artifact can never go stale.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$DML_ROOT/pallet"
# The node (node/) is a workspace of its own that does not go into the runtime.
find . -path ./target -prune -o -path ./node -prune -o -type f \( -name '*.rs' -o -name 'Cargo.toml' -o -name 'Cargo.lock' \) -print \
  | LC_ALL=C sort | xargs sha256sum | sha256sum | cut -d' ' -f1
