#!/usr/bin/env bash
# Installs everything the dev chain, the storage daemons, the bundle sandbox,
# the tests and the demo need, on a fresh Debian machine: Debian packages
# (bubblewrap among them), the Python environment, Chopsticks with Node 22,
# Kubo and MinIO, and the offline data set. Idempotent;
# heavy results are cached in ~/.cache/decentralml.
set -euo pipefail
source "$(dirname "$0")/env.sh"
need_apt=()
for pkg in dataset-fashion-mnist bubblewrap; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need_apt+=("$pkg")
done
if [ ${#need_apt[@]} -gt 0 ]; then
  dml_log "installing Debian packages: ${need_apt[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi
bash "$DML_ROOT/scripts/install_python.sh"
bash "$DML_ROOT/scripts/install_chopsticks.sh"
bash "$DML_ROOT/scripts/install_storage_daemons.sh"
bash "$DML_ROOT/scripts/install_data.sh"
dml_log "everything installed"
