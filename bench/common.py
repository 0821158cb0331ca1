"""What every benchmark shares: the machine, timing, memory, worker processes, results.

This module imports nothing but the standard library, so the process that starts
workers stays small: a worker's peak RSS (``ru_maxrss`` from ``os.wait4``) also
counts the memory of the process it was spawned from, and that must not be what
we read.

Memory is measured by the kernel, never estimated: a worker calls
:func:`reset_peak_rss` just before the work (``/proc/self/clear_refs`` ``5``
resets ``VmHWM``) and :class:`Meter` reads ``VmHWM`` after it, so the peak is the
work's, on top of the RSS the worker already had (interpreter and imports), which
is reported beside it.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import os
import platform
import shlex
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
RESULTS = BENCH / "results"
PYTHON = sys.executable
MiB = 1024 * 1024

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def cache_dir() -> Path:
    """Where generated inputs are kept between runs (``$DECENTRALML_CACHE/bench``)."""
    base = Path(os.environ.get("DECENTRALML_CACHE", Path.home() / ".cache" / "decentralml")).expanduser()
    path = base / "bench"
    path.mkdir(parents=True, exist_ok=True)
    return path


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- the machine


def load() -> list[float]:
    """The 1, 5 and 15 minute load averages, rounded."""
    return [round(x, 2) for x in os.getloadavg()]


def _meminfo_kib(field: str) -> int:
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def machine() -> dict[str, Any]:
    """nproc, RAM, CPU model, kernel, Python: what a reader needs to judge the numbers."""
    cpu = platform.processor() or ""
    with contextlib.suppress(OSError):
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    return {
        "nproc": os.cpu_count(),
        "ram_gib": round(_meminfo_kib("MemTotal") / 1024 / 1024, 1),
        "available_gib_at_start": round(_meminfo_kib("MemAvailable") / 1024 / 1024, 1),
        "cpu": cpu,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "hostname": socket.gethostname(),
    }


def available_memory_bytes() -> int:
    return _meminfo_kib("MemAvailable") * 1024


# --------------------------------------------------------------------------- memory of this process


def _status_kib(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def rss_bytes() -> int:
    return _status_kib("VmRSS") * 1024


def peak_rss_bytes() -> int:
    """The peak RSS (``VmHWM``) since the process started or since :func:`reset_peak_rss`."""
    return _status_kib("VmHWM") * 1024


def reset_peak_rss() -> None:
    """Reset the kernel's peak-RSS counter of this process to its current RSS."""
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


class Meter:
    """Wall time and kernel-measured peak RSS of a block, in the process it runs in.

    >>> with Meter() as m:
    ...     work()
    >>> m.result()  # {"seconds": ..., "rss_before_mb": ..., "peak_rss_mb": ..., "added_rss_mb": ...}
    """

    def __enter__(self) -> "Meter":
        self.peak_before_mb = peak_rss_bytes() / MiB  # e.g. the imports' peak
        self.rss_before = rss_bytes()
        reset_peak_rss()
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        self.seconds = time.perf_counter() - self.start
        self.peak = peak_rss_bytes()

    def result(self) -> dict[str, float]:
        return {
            "seconds": round(self.seconds, 4),
            "rss_before_mb": round(self.rss_before / MiB, 1),
            "peak_rss_mb": round(self.peak / MiB, 1),
            "added_rss_mb": round((self.peak - self.rss_before) / MiB, 1),
            "startup_peak_rss_mb": round(self.peak_before_mb, 1),
        }


# --------------------------------------------------------------------------- worker processes


class WorkerError(RuntimeError):
    pass


def run_worker(module: str, args: Sequence[str], *, env: dict[str, str] | None = None,
               timeout: float = 3600, label: str = "") -> dict[str, Any]:
    """Run ``python -m bench.<module> --worker ... --result FILE`` and return what it wrote.

    Adds ``process_seconds`` (the whole process, imports included), ``process_maxrss_mb``
    (``ru_maxrss`` from ``os.wait4``: the process's own peak, counted by the kernel) and
    the load average before and after.
    """
    with tempfile.TemporaryDirectory(prefix="dml-bench-") as tmp:
        out = Path(tmp) / "result.json"
        argv = [PYTHON, "-m", f"bench.{module}", "--worker", *args, "--result", str(out)]
        return _run_measured(argv, out, env=env, timeout=timeout, label=label or " ".join(args[:3]))


def run_command(argv: Sequence[str], *, env: dict[str, str] | None = None, timeout: float = 3600,
                cwd: str | Path | None = None, capture: bool = True) -> dict[str, Any]:
    """Run a plain command; its wall time, output and ``ru_maxrss`` (from ``os.wait4``).

    With ``capture=False`` its standard output goes to /dev/null.
    """
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        load_before = load()
        start = time.perf_counter()
        proc = subprocess.Popen(list(map(str, argv)), env=env, stdout=out if capture else subprocess.DEVNULL, stderr=err, cwd=cwd,
                                stdin=subprocess.DEVNULL)
        status, usage = _wait(proc, timeout)
        seconds = time.perf_counter() - start
        out.seek(0)
        err.seek(0)
        stdout = out.read().decode(errors="replace")
        stderr = err.read().decode(errors="replace")
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise WorkerError(f"{shlex.join(map(str, argv))} exited with {code}: {stderr.strip()[-2000:]}")
    return {"seconds": round(seconds, 4), "maxrss_mb": round(usage.ru_maxrss / 1024, 1),
            "load_before": load_before, "load_after": load(), "stdout": stdout, "stderr": stderr[-2000:]}


def _wait(proc: subprocess.Popen, timeout: float):
    deadline = time.monotonic() + timeout
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid == proc.pid:
            proc.returncode = os.waitstatus_to_exitcode(status)
            return status, usage
        if time.monotonic() > deadline:
            proc.kill()
            _, status, usage = os.wait4(proc.pid, 0)
            proc.returncode = -9
            raise WorkerError(f"pid {proc.pid} did not finish within {timeout:.0f}s; killed")
        time.sleep(0.01)


def _run_measured(argv, out: Path, *, env, timeout, label) -> dict[str, Any]:
    load_before = load()
    start = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, cwd=ROOT, stdout=sys.stderr, stderr=sys.stderr)
    status, usage = _wait(proc, timeout)
    seconds = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise WorkerError(f"worker {label} exited with {code} (its output is above)")
    data = json.loads(out.read_text())
    data["process_seconds"] = round(seconds, 3)
    data["process_maxrss_mb"] = round(usage.ru_maxrss / 1024, 1)
    data["load_before"] = load_before
    data["load_after"] = load()
    return data


def worker_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    from substrate_client import tensorflow_setup

    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # also hides the "no CUDA" error line
    tensorflow_setup.configure(env)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT)] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
    env.update({k: str(v) for k, v in extra.items()})
    return env


def write_worker_result(path: str | Path, data: dict[str, Any]) -> None:
    Path(path).write_text(json.dumps(data, indent=1, default=_json_default))


# --------------------------------------------------------------------------- statistics


def median(values: Iterable[float]) -> float:
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else float("nan")


def ratio(numerator: float, denominator: float, digits: int = 3) -> float | None:
    if not denominator or numerator is None or denominator != denominator:
        return None
    return round(numerator / denominator, digits)


def goal(goal_id: str, description: str, target: str, measured: Any, met: bool | None,
         detail: str = "", bound_by: str = "") -> dict[str, Any]:
    """One goal verdict. ``met`` is None when it could not be measured."""
    return {"id": goal_id, "description": description, "target": target, "measured": measured,
            "met": met, "detail": detail, "bound_by": bound_by}


# --------------------------------------------------------------------------- profiles


def profile_call(fn: Callable[[], Any], text_path: Path, top: int = 12, interval: float = 0.001):
    """Run ``fn`` under pyinstrument; write the call tree to ``text_path``.

    Returns ``(fn's result, summary)`` where the summary lists the functions with the most
    self time (what the time is actually spent in) and the total profiled seconds.
    """
    from pyinstrument import Profiler

    profiler = Profiler(interval=interval)
    profiler.start()
    try:
        value = fn()
    finally:
        profiler.stop()
    text_path.parent.mkdir(parents=True, exist_ok=True)
    text_path.write_text(profiler.output_text(unicode=False, color=False, show_all=False))
    return value, summarize_profile(profiler, top) | {"file": _relative(text_path)}


def summarize_profile(profiler, top: int = 12) -> dict[str, Any]:
    root = profiler.last_session.root_frame(trim_stem=False)
    totals: dict[str, float] = {}

    def walk(frame) -> None:
        if frame.is_synthetic:  # "[self]" and "[await]" leaves: their time is the parent's self time
            return
        name = frame.function
        where = frame.file_path_short or ""
        key = f"{name} ({where}:{frame.line_no})" if where else name
        self_time = frame.total_self_time
        if self_time > 0:
            totals[key] = totals.get(key, 0.0) + self_time
        for child in frame.children:
            walk(child)

    total = root.time if root is not None else 0.0
    if root is not None:
        walk(root)
    ranked = sorted(totals.items(), key=lambda kv: kv[1], reverse=True)[:top]
    return {
        "total_seconds": round(total, 3),
        "top_self_time": [
            {"function": k, "seconds": round(v, 3), "share": round(v / total, 3) if total else None}
            for k, v in ranked
        ],
    }


def _relative(path: Path) -> str:
    with contextlib.suppress(ValueError):
        return str(Path(path).resolve().relative_to(ROOT))
    return str(path)


# --------------------------------------------------------------------------- results


def _json_default(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    if isinstance(value, (set, tuple)):
        return list(value)
    raise TypeError(f"cannot write {type(value).__name__} to JSON")


def new_result(name: str, smoke: bool, argv: Sequence[str] | None = None) -> dict[str, Any]:
    """The common head of every result file."""
    command = "bash scripts/bench.sh" + (" --smoke" if smoke else "") + f" --only {name}"
    return {
        "name": name,
        "smoke": smoke,
        "command": command,
        "argv": list(argv if argv is not None else sys.argv),
        "started_at": _dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "machine": machine(),
        "load_start": load(),
        "ratios": {},
        "goals": [],
        "notes": [],
    }


def finish_result(result: dict[str, Any], out_dir: Path) -> Path:
    result["finished_at"] = _dt.datetime.now().astimezone().isoformat(timespec="seconds")
    result["load_end"] = load()
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{result['name']}.json"
    tmp = path.with_suffix(".json.partial")
    tmp.write_text(json.dumps(result, indent=1, default=_json_default) + "\n")
    os.replace(tmp, path)
    log(f"wrote {path}")
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def env_vars(**values: str | None) -> Iterator[None]:
    """Set (or with None, unset) environment variables for the block."""
    before = {k: os.environ.get(k) for k in values}
    for k, v in values.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
    try:
        yield
    finally:
        for k, v in before.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def common_args(parser) -> None:
    """Arguments every benchmark module takes."""
    parser.add_argument("--smoke", action="store_true", help="tiny sizes (a couple of minutes)")
    parser.add_argument("--out", type=Path, default=None,
                        help="results folder (default bench/results, or bench/results/smoke with --smoke)")
    parser.add_argument("--repeats", type=int, default=None, help="timed repetitions per variant")
    parser.add_argument("--worker", action="store_true", help=argparse_hidden())
    parser.add_argument("--result", type=Path, help=argparse_hidden())


def argparse_hidden() -> str:
    import argparse

    return argparse.SUPPRESS


def out_dir(args) -> Path:
    if args.out is not None:
        return Path(args.out)
    return RESULTS / "smoke" if args.smoke else RESULTS
