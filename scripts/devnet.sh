#!/usr/bin/env bash
# Start, stop or inspect the local dev chain (Chopsticks running our runtime).
#   scripts/devnet.sh up|down|status [--port 9944]
set -euo pipefail
source "$(dirname "$0")/env.sh"
[ -x "$DML_VENV/bin/python" ] || bash "$DML_ROOT/scripts/install_python.sh"
[ "${1:-}" = "up" ] && bash "$DML_ROOT/scripts/install_chopsticks.sh"
exec "$DML_VENV/bin/python" -m substrate_client.devnet "$@"
