#!/usr/bin/env bash
# Fails when the committed chain spec was not built from the current runtime
# sources: rebuild it with scripts/build_runtime.sh and commit the result.
set -euo pipefail
source "$(dirname "$0")/env.sh"
record="$DML_ROOT/substrate_client/runtime/BUILD.sha256"
[ -f "$record" ] || dml_die "no $record; run scripts/build_runtime.sh"
recorded="$(awk '$1 == "sources" {print $2}' "$record")"
current="$(bash "$DML_ROOT/scripts/runtime_source_hash.sh")"
if [ "$recorded" != "$current" ]; then
  dml_die "the committed chain spec is stale: built from sources $recorded, sources are now $current. Run scripts/build_runtime.sh and commit substrate_client/runtime/."
fi
dml_log "chain spec matches the runtime sources ($current)"
