#!/usr/bin/env bash
# Runs the benchmarks and regenerates BENCHMARKS.md and the charts in bench/results/.
#
#   scripts/bench.sh                 all benchmarks, real sizes (long: run it in the background)
#   scripts/bench.sh --smoke         tiny sizes, a couple of minutes (results in bench/results/smoke/)
#   scripts/bench.sh --only chain    one benchmark (federation, chain, storage, campaign)
#   scripts/bench.sh --report-only   regenerate the report from the result files
#
# Needs the project's venv with the `bench` extra (flwr, pyinstrument, psutil), the storage
# daemons (scripts/install_storage_daemons.sh), Chopsticks and the built runtime's chain spec.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$DML_ROOT"
exec "$DML_VENV/bin/python" -m bench "$@"
