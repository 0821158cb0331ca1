#!/usr/bin/env bash
# Creates the project's virtualenv in the shared cache and installs the package
# with its test and benchmark extras. Idempotent; re-run after changing pyproject.toml.
set -euo pipefail
source "$(dirname "$0")/env.sh"
PY="${PYTHON:-python3}"
command -v "$PY" >/dev/null || dml_die "python3 is needed"
[ -x "$DML_VENV/bin/python" ] || "$PY" -m venv "$DML_VENV"
"$DML_VENV/bin/python" -m pip install --quiet --upgrade pip
"$DML_VENV/bin/python" -m pip install --quiet -e "$DML_ROOT[test,bench]"
dml_log "Python environment ready: $DML_VENV"
