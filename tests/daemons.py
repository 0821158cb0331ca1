"""Start and stop real storage daemons for tests: Kubo (IPFS) and MinIO (S3).

Each daemon gets a fresh directory and free ports on 127.0.0.1, and is stopped
(and waited for) on teardown. Anything missing or failing raises DaemonError
with a message saying what and how to fix it; the fixtures turn that into a
test failure, never a skip.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parent.parent
INSTALL_SCRIPT = "scripts/install_storage_daemons.sh"
GOBIN = Path(os.environ.get("DECENTRALML_CACHE", "~/.cache/decentralml")).expanduser() / "go" / "bin"

MINIO_USER = "decentralml-test"
MINIO_PASSWORD = "decentralml-test-secret"


class DaemonError(RuntimeError):
    """A daemon's binary is missing, or it did not start."""


def find_binary(name: str) -> Path:
    """The daemon binary built by the install script, else one on PATH."""
    built = GOBIN / name
    if built.is_file() and os.access(built, os.X_OK):
        return built
    on_path = shutil.which(name)
    if on_path:
        return Path(on_path)
    raise DaemonError(
        f"the `{name}` binary is missing: not in {GOBIN} nor on PATH. "
        f"Build it with `{INSTALL_SCRIPT}` (from {REPO})."
    )


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Daemon:
    """A running daemon process with its log file."""

    name: str
    process: subprocess.Popen
    log_path: Path
    env: dict[str, str] = field(default_factory=dict)
    #: How it was started and how to tell it is ready, to start it again as it was.
    argv: list = field(default_factory=list)
    ready: object = None

    def log_tail(self, lines: int = 20) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return "(no log)"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)

    def start_again(self, timeout: float = 60) -> None:
        """Start the stopped daemon again, on the same ports and data."""
        assert self.process.poll() is not None, f"{self.name} is still running"
        self.process = _spawn(self.argv, self.env, self.log_path)
        self.wait_until(self.ready, timeout, "ready again")

    def wait_until(self, ready, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise DaemonError(
                    f"{self.name} exited with code {self.process.returncode} before {what}; "
                    f"its log ({self.log_path}) ends:\n{self.log_tail()}"
                )
            with contextlib.suppress(requests.RequestException):
                if ready():
                    return
            time.sleep(0.2)
        self.stop()
        raise DaemonError(
            f"{self.name} did not get {what} within {timeout:.0f}s; its log ({self.log_path}) ends:\n"
            f"{self.log_tail()}"
        )


@dataclass
class Kubo(Daemon):
    api_url: str = ""


@dataclass
class Minio(Daemon):
    endpoint_url: str = ""


def _spawn(argv: list, env: dict, log_path: Path) -> subprocess.Popen:
    with open(log_path, "ab") as log:
        return subprocess.Popen(
            [str(a) for a in argv],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )


def _run(argv: list, env: dict, what: str) -> None:
    result = subprocess.run(
        [str(a) for a in argv], env=env, capture_output=True, text=True, timeout=60
    )
    if result.returncode != 0:
        raise DaemonError(f"{what} failed ({result.returncode}): {result.stderr.strip() or result.stdout.strip()}")


def start_kubo(workdir: Path, timeout: float = 60) -> Kubo:
    """A Kubo node in ``workdir`` (``--profile test``, offline), its API on a free local port."""
    ipfs = find_binary("ipfs")
    workdir.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, IPFS_PATH=str(workdir / "ipfs"), IPFS_TELEMETRY="off")
    _run([ipfs, "init", "--profile", "test"], env, "ipfs init")
    api_port, gateway_port = free_port(), free_port()
    _run([ipfs, "config", "Addresses.API", f"/ip4/127.0.0.1/tcp/{api_port}"], env, "ipfs config")
    _run([ipfs, "config", "Addresses.Gateway", f"/ip4/127.0.0.1/tcp/{gateway_port}"], env, "ipfs config")
    log_path = workdir / "kubo.log"
    argv = [ipfs, "daemon", "--offline"]
    api_url = f"http://127.0.0.1:{api_port}"

    def ready() -> bool:
        return requests.post(f"{api_url}/api/v0/version", timeout=2).status_code == 200

    kubo = Kubo("Kubo", _spawn(argv, env, log_path), log_path, env, argv, ready, api_url=api_url)
    kubo.wait_until(ready, timeout, f"its API answering at {kubo.api_url}")
    return kubo


def start_minio(workdir: Path, timeout: float = 60) -> Minio:
    """A MinIO server on a free local port, with data in ``workdir`` and test credentials."""
    minio = find_binary("minio")
    port, console_port = free_port(), free_port()
    env = dict(
        os.environ,
        MINIO_ROOT_USER=MINIO_USER,
        MINIO_ROOT_PASSWORD=MINIO_PASSWORD,
        MINIO_BROWSER="off",
        MINIO_UPDATE="off",
        HOME=str(workdir),  # MinIO keeps its own config under ~/.minio
    )
    data = workdir / "data"
    data.mkdir(parents=True, exist_ok=True)
    log_path = workdir / "minio.log"
    argv = [
        minio, "server", data,
        "--address", f"127.0.0.1:{port}",
        "--console-address", f"127.0.0.1:{console_port}",
        "--quiet",
    ]
    endpoint_url = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        return requests.get(f"{endpoint_url}/minio/health/ready", timeout=2).status_code == 200

    server = Minio("MinIO", _spawn(argv, env, log_path), log_path, env, argv, ready,
                   endpoint_url=endpoint_url)
    server.wait_until(ready, timeout, f"ready at {server.endpoint_url}")
    return server
