#!/usr/bin/env bash
# Start, stop or inspect the storage daemons: Kubo (IPFS, offline) and MinIO (S3), on 127.0.0.1.
#   scripts/storage.sh up|down|status|env     (eval "$(scripts/storage.sh env)" for the client)
# The same as `decentralml storage ...`: ports (DECENTRALML_IPFS_PORT, DECENTRALML_S3_PORT, ...),
# data and logs (DECENTRALML_RUN_DIR) in `decentralml storage --help`.
set -euo pipefail
source "$(dirname "$0")/env.sh"
[ -x "$DML_VENV/bin/python" ] || bash "$DML_ROOT/scripts/install_python.sh"
# This checkout's package, whatever the folder it runs from.
PYTHONPATH="$DML_ROOT${PYTHONPATH:+:$PYTHONPATH}" exec "$DML_VENV/bin/python" -m substrate_client.cli storage "$@"
