#!/usr/bin/env bash
# Creates the project's virtualenv in the shared cache and installs the package
# with its test and benchmark extras. Idempotent; re-run after changing pyproject.toml.
# pip's own output (setuptools' notes on editable installs among it) goes to a log
# that is shown only when the install fails.
set -euo pipefail
source "$(dirname "$0")/env.sh"
PY="${PYTHON:-python3}"
command -v "$PY" >/dev/null || dml_die "python3 is needed"
[ -x "$DML_VENV/bin/python" ] || "$PY" -m venv "$DML_VENV"
log="$DML_CACHE/install-python.log"
if ! { "$DML_VENV/bin/python" -m pip install --quiet --upgrade pip &&
       "$DML_VENV/bin/python" -m pip install --quiet -e "$DML_ROOT[test,bench]"; } >"$log" 2>&1; then
  tail -n 40 "$log" >&2
  dml_die "installing the Python environment failed; the whole log is $log"
fi
dml_log "Python environment ready: $DML_VENV"
