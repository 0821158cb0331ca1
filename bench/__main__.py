"""Run the benchmarks one after another, then regenerate BENCHMARKS.md and the charts.

    python -m bench                      # all, real sizes: results in bench/results/, BENCHMARKS.md
    python -m bench --smoke              # tiny sizes: results and report in bench/results/smoke/
    python -m bench --only chain,storage
    python -m bench --report-only        # only regenerate the report from the result files

Each benchmark runs in its own process (``python -m bench.<name>``), so one that fails
does not stop the others; the exit code is non-zero if any failed.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import subprocess
import sys
from pathlib import Path

from bench import common

BENCHMARKS = ("federation", "chain", "storage", "campaign")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, a couple of minutes")
    parser.add_argument("--only", help="comma-separated: " + ",".join(BENCHMARKS))
    parser.add_argument("--out", type=Path, help="results folder (default bench/results, or bench/results/smoke)")
    parser.add_argument("--repeats", type=int, help="timed repetitions per variant (default per benchmark)")
    parser.add_argument("--report-only", action="store_true", help="regenerate BENCHMARKS.md and the charts only")
    args = parser.parse_args(argv)

    names = [n.strip() for n in args.only.split(",")] if args.only else list(BENCHMARKS)
    unknown = set(names) - set(BENCHMARKS)
    if unknown:
        parser.error(f"unknown benchmarks {', '.join(sorted(unknown))}; choose from {', '.join(BENCHMARKS)}")
    out_dir = args.out or (common.RESULTS / "smoke" if args.smoke else common.RESULTS)
    out_dir.mkdir(parents=True, exist_ok=True)
    status_path = out_dir / "status.json"
    status = json.loads(status_path.read_text()) if status_path.is_file() else {}
    failed = []
    if not args.report_only:
        for name in names:
            argv_b = [common.PYTHON, "-m", f"bench.{name}", "--out", str(out_dir)]
            if args.smoke:
                argv_b.append("--smoke")
            if args.repeats:
                argv_b += ["--repeats", str(args.repeats)]
            common.log(f"=== {name}: {' '.join(argv_b[1:])} (load {common.load()})")
            code = subprocess.call(argv_b, cwd=common.ROOT, env=common.worker_env())
            when = _dt.datetime.now().astimezone().isoformat(timespec="seconds")
            status[name] = {"state": "ok" if code == 0 else f"exit code {code}", "when": when}
            status_path.write_text(json.dumps(status, indent=1) + "\n")
            if code != 0:
                failed.append(name)
                common.log(f"=== {name} FAILED (exit code {code})")
    from bench import report

    report.write_report(out_dir)
    if failed:
        common.log(f"failed: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
