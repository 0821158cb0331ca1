"""Start and stop real storage daemons for tests: Kubo (IPFS) and MinIO (S3).

Each daemon gets a fresh directory and binds port 0 on 127.0.0.1 (the port it got is read
back, so no other process can take it between picking and binding), and is stopped
(and waited for) on teardown. Anything missing or failing raises DaemonError
with a message saying what and how to fix it; the fixtures turn that into a
test failure, never a skip.
"""

from __future__ import annotations

import contextlib
import os
import re
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
    """A port nothing listens on right now, for a URL that must be unreachable. Never
    start a daemon on it: another process may take it first. Daemons here bind port 0
    and the port they got is read back (:func:`start_kubo`, :func:`start_minio`), or
    they start again on another port if theirs was taken (:func:`on_a_free_port`)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


_PORT_TAKEN = re.compile(r"EADDRINUSE|address already in use|port \d+ .* is taken", re.IGNORECASE)


def on_a_free_port(start, attempts: int = 3):
    """``start(port)`` on a port that was free a moment ago, for a daemon that cannot be
    told to bind port 0; if another process took the port in between (``start`` raises
    an error saying so), it is tried again on another. Any other failure is raised."""
    for attempt in range(attempts):
        try:
            return start(free_port())
        except Exception as error:
            if attempt == attempts - 1 or not _PORT_TAKEN.search(str(error)):
                raise


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
    # Kubo binds the ports it is given as 0 and writes the API's address to $IPFS_PATH/api.
    _run([ipfs, "config", "Addresses.API", "/ip4/127.0.0.1/tcp/0"], env, "ipfs config")
    _run([ipfs, "config", "Addresses.Gateway", "/ip4/127.0.0.1/tcp/0"], env, "ipfs config")
    api_file = workdir / "ipfs" / "api"
    log_path = workdir / "kubo.log"
    argv = [ipfs, "daemon", "--offline"]
    kubo = Kubo("Kubo", _spawn(argv, env, log_path), log_path, env, argv)

    def ready() -> bool:
        if not kubo.api_url:
            if not api_file.is_file():
                return False
            host_port = api_file.read_text().strip().split("/")  # /ip4/127.0.0.1/tcp/PORT
            kubo.api_url = f"http://{host_port[2]}:{host_port[4]}"
        return requests.post(f"{kubo.api_url}/api/v0/version", timeout=2).status_code == 200

    kubo.ready = ready
    kubo.wait_until(ready, timeout, "its API answering")
    # Started again (chaos tests), it must come back on the same port.
    _run([ipfs, "config", "Addresses.API", f"/ip4/127.0.0.1/tcp/{kubo.api_url.rsplit(':', 1)[1]}"],
         env, "ipfs config")
    return kubo


def start_minio(workdir: Path, timeout: float = 60) -> Minio:
    """A MinIO server on a free local port, with data in ``workdir`` and test credentials."""
    minio = find_binary("minio")
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
    # MinIO binds port 0 and prints the port it got ("API: http://127.0.0.1:PORT"); with
    # MINIO_BROWSER=off it starts no console.
    argv = [minio, "server", data, "--address", "127.0.0.1:0"]
    server = Minio("MinIO", _spawn(argv, env, log_path), log_path, env, argv)

    def ready() -> bool:
        if not server.endpoint_url:
            found = re.search(r"^API: (http://127\.0\.0\.1:\d+)", server.log_path.read_text(errors="replace"),
                              re.MULTILINE)
            if not found:
                return False
            server.endpoint_url = found.group(1)
        return requests.get(f"{server.endpoint_url}/minio/health/ready", timeout=2).status_code == 200

    server.ready = ready
    server.wait_until(ready, timeout, "ready")
    # Started again (chaos tests), it must come back on the same port.
    server.argv = [minio, "server", data, "--address", server.endpoint_url.removeprefix("http://")]
    return server
