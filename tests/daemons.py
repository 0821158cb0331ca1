"""Start and stop real storage daemons for tests: Kubo (IPFS) and MinIO (S3).

The pieces are :mod:`substrate_client.devstorage`'s (the binaries, a bare environment,
Kubo's local-only configuration, waiting until ready); what is the tests' own is kept
here: each daemon gets a fresh directory and binds port 0 on 127.0.0.1 (the port it got
is read back, so no other process can take it between picking and binding), can be
started again on the same port (chaos tests), and is stopped (and waited for) on
teardown. Anything missing or failing raises DaemonError with a message saying what and
how to fix it; the fixtures turn that into a test failure, never a skip.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import requests

from substrate_client import devstorage
from substrate_client.errors import DecentralMLError
from substrate_client.files import log_tail

MINIO_USER = "decentralml-test"
MINIO_PASSWORD = "decentralml-test-secret"


class DaemonError(RuntimeError):
    """A daemon's binary is missing, or it did not start."""


@contextlib.contextmanager
def _as_daemon_error():
    try:
        yield
    except DecentralMLError as error:
        raise DaemonError(str(error)) from None


def find_binary(name: str) -> Path:
    """The daemon binary built by the install script, else one on PATH."""
    with _as_daemon_error():
        return devstorage.find_binary(name)


def free_port() -> int:
    """A port nothing listens on right now, for a URL that must be unreachable. Never
    start a daemon on it: another process may take it first. Daemons here bind port 0
    and the port they got is read back (:func:`start_kubo`, :func:`start_minio`), or
    they start again on another port if theirs was taken (:func:`on_a_free_port`)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def alive(pid: int) -> bool:
    """Whether a process ``pid`` exists (a daemon a command started, or stopped)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


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
        return log_tail(self.log_path, lines)

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
        try:
            devstorage.wait_ready(self.name, self.process, ready, timeout, self.log_path, what)
        except DecentralMLError as error:
            self.stop()
            raise DaemonError(str(error)) from None


@dataclass
class Kubo(Daemon):
    api_url: str = ""


@dataclass
class Minio(Daemon):
    endpoint_url: str = ""


def _spawn(argv: list, env: dict, log_path: Path) -> subprocess.Popen:
    # In the test's own session: a Ctrl-C stops it with the tests.
    return devstorage.spawn(argv, env, log_path, detach=False)


def start_kubo(workdir: Path, timeout: float = 60) -> Kubo:
    """A Kubo node in ``workdir`` (offline, local only), its API on a free local port."""
    ipfs = find_binary("ipfs")
    workdir.mkdir(parents=True, exist_ok=True)
    env = devstorage.kubo_env(workdir / "ipfs")
    log_path = workdir / "kubo.log"
    # Kubo binds the ports it is given as 0 and writes the API's address to $IPFS_PATH/api.
    with _as_daemon_error():
        devstorage.prepare_kubo(ipfs, env, log_path, api_port=0, gateway_port=0)
    api_file = workdir / "ipfs" / "api"
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
    with _as_daemon_error():
        devstorage.set_kubo_ports(ipfs, env, log_path, int(kubo.api_url.rsplit(":", 1)[1]))
    return kubo


def start_minio(workdir: Path, timeout: float = 60) -> Minio:
    """A MinIO server on a free local port, with data in ``workdir`` and test credentials."""
    minio = find_binary("minio")
    # MinIO keeps its own config under ~/.minio.
    env = devstorage.minio_env(MINIO_USER, MINIO_PASSWORD, HOME=str(workdir))
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
