"""The services a round needs on this machine: the dev chain and the storage daemons
(Kubo for IPFS, MinIO for S3), started unless they already run.

The binaries are the ones the install put in the cache (``~/.cache/decentralml``, or
``DECENTRALML_CACHE``: Chopsticks in ``node/``, Kubo and MinIO in ``go/bin/``), else
those on ``PATH``: nothing here reads the source checkout, so an installed package runs
the demo as well. The files are laid out as ``scripts/storage.sh`` lays them out (pid
files, logs, data and MinIO's credentials under ``DECENTRALML_RUN_DIR``), so either
one stops what the other started. Everything listens on 127.0.0.1 only. Each daemon
gets an environment of its own, without the caller's signer or credentials.
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from .. import config, devnet
from ..chain import chain_url
from ..files import log_tail
from ..errors import ConfigError, StorageUnavailableError

log = logging.getLogger(__name__)

HOST = "127.0.0.1"
#: What each daemon's command line holds: a pid file naming another program is stale.
_COMMANDS = {"kubo": "ipfs daemon", "minio": "minio server"}
#: Kubo on 127.0.0.1 only, offline: no bootstrap peers, LAN discovery or remote defaults
#: (AutoConf fetches them from conf.ipfs-mainnet.org, even offline).
_KUBO_CONFIG = (
    ("--json", "Addresses.Swarm", f'["/ip4/{HOST}/tcp/0"]'),
    ("--json", "Discovery.MDNS.Enabled", "false"),
    ("--json", "AutoConf.Enabled", "false"),
    ("--json", "Bootstrap", "[]"),
    ("--json", "DNS.Resolvers", "{}"),
    ("--json", "Routing.DelegatedRouters", "[]"),
    ("--json", "Ipns.DelegatedPublishers", "[]"),
)


@dataclass(frozen=True)
class StorageServices:
    """Where the local Kubo and MinIO answer, and MinIO's credentials (for boto3)."""

    ipfs_api: str
    s3_endpoint: str
    access_key: str
    secret_key: str


# --------------------------------------------------------------------------- the chain


def chain_up(url: str | None, port: int) -> tuple[str, devnet.DevnetStatus | None]:
    """The node at ``url``, or else the local dev chain on ``port``, started unless it runs."""
    if url:
        return chain_url(url), None
    state = devnet.up(port)
    return state.url, state


# --------------------------------------------------------------------------- storage


def find_binary(name: str, local: config.LocalSettings | None = None) -> Path:
    """The daemon ``name`` the install built into the cache, else one on ``PATH``."""
    local = local or config.local_settings()
    built = local.cache_dir / "go" / "bin" / name
    if built.is_file() and os.access(built, os.X_OK):
        return built
    found = shutil.which(name)
    if found:
        return Path(found)
    raise ConfigError(f"the `{name}` binary is missing (not in {built.parent} nor on PATH); "
                      "install it with scripts/install_storage_daemons.sh from the project's source")


def storage_up(local: config.LocalSettings | None = None) -> StorageServices:
    """Start Kubo and MinIO unless ours already run; return where they are."""
    local = local or config.local_settings()
    for folder in (local.run_dir, local.run_dir / "logs"):
        folder.mkdir(parents=True, exist_ok=True)
    _kubo_up(local)
    user, password = _minio_up(local)
    return StorageServices(ipfs_api=f"http://{HOST}:{local.ipfs_port}",
                           s3_endpoint=f"http://{HOST}:{local.s3_port}",
                           access_key=user, secret_key=password)


def storage_down(local: config.LocalSettings | None = None) -> list[str]:
    """Stop the storage daemons of ours that run; return the names of those stopped."""
    local = local or config.local_settings()
    stopped = []
    for name in _COMMANDS:
        pid = _pid_of(local, name)
        (local.run_dir / f"{name}.pid").unlink(missing_ok=True)
        if pid is not None and _stop(pid):
            stopped.append(name)
    return stopped


def _kubo_up(local: config.LocalSettings) -> None:
    pid = _pid_of(local, "kubo")
    api = f"http://{HOST}:{local.ipfs_port}"
    if pid is not None:
        log.info("kubo already running (pid %d), API %s", pid, api)
        return
    _check_port_free(local.ipfs_port, "DECENTRALML_IPFS_PORT")
    ipfs = str(find_binary("ipfs", local))
    repo = local.run_dir / "ipfs"
    env = _daemon_env(IPFS_PATH=str(repo), IPFS_TELEMETRY="off")
    logs = local.run_dir / "logs" / "kubo.log"
    if not (repo / "config").is_file():
        log.info("creating the IPFS repository in %s", repo)
        _run_logged([ipfs, "init", "--empty-repo"], env, logs, "ipfs init")
    settings = (("Addresses.API", f"/ip4/{HOST}/tcp/{local.ipfs_port}"),
                ("Addresses.Gateway", f"/ip4/{HOST}/tcp/{local.ipfs_gateway_port}"))
    for args in [*settings, *_KUBO_CONFIG]:
        _run_logged([ipfs, "config", *args], env, logs, f"ipfs config {args[-2]}")
    process = _start(local, "kubo", [ipfs, "daemon", "--offline"], env)
    _wait_ready(local, "kubo", process, f"{api}/api/v0/version", method="POST")
    log.info("kubo up (pid %d), API %s", process.pid, api)


def _minio_up(local: config.LocalSettings) -> tuple[str, str]:
    folder = local.run_dir / "minio"
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o700)
    user, password = _minio_credentials(folder / "credentials")
    pid = _pid_of(local, "minio")
    endpoint = f"http://{HOST}:{local.s3_port}"
    if pid is not None:
        log.info("minio already running (pid %d), S3 %s", pid, endpoint)
        return user, password
    _check_port_free(local.s3_port, "DECENTRALML_S3_PORT")
    minio = str(find_binary("minio", local))
    (folder / "data").mkdir(exist_ok=True)
    env = _daemon_env(MINIO_ROOT_USER=user, MINIO_ROOT_PASSWORD=password,
                      MINIO_BROWSER="off", MINIO_UPDATE="off")
    process = _start(local, "minio", [
        minio, "server", str(folder / "data"), "--quiet", "--address", f"{HOST}:{local.s3_port}",
        "--console-address", f"{HOST}:{local.s3_console_port}"], env)
    _wait_ready(local, "minio", process, f"{endpoint}/minio/health/ready")
    log.info("minio up (pid %d), S3 %s", process.pid, endpoint)
    return user, password


def _minio_credentials(path: Path) -> tuple[str, str]:
    """MinIO's root user and password, made once (from ``AWS_ACCESS_KEY_ID`` and
    ``AWS_SECRET_ACCESS_KEY`` if set, else a random password) and kept readable by you only."""
    if not path.is_file():
        user = os.environ.get("AWS_ACCESS_KEY_ID") or "decentralml"
        password = os.environ.get("AWS_SECRET_ACCESS_KEY") or secrets.token_hex(24)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(f"MINIO_ROOT_USER={user}\nMINIO_ROOT_PASSWORD={password}\n")
    values = {}
    for line in path.read_text().splitlines():
        name, _, value = line.partition("=")
        values[name.strip()] = value.strip().strip("'\"")
    try:
        return values["MINIO_ROOT_USER"], values["MINIO_ROOT_PASSWORD"]
    except KeyError:
        raise ConfigError(f"{path} does not hold MINIO_ROOT_USER and MINIO_ROOT_PASSWORD; "
                          "remove it to make new credentials") from None


def _daemon_env(**extra: str) -> dict[str, str]:
    """A daemon's environment: what it needs to run, and none of the caller's settings."""
    env = {name: os.environ[name] for name in ("PATH", "HOME", "LANG", "TZ") if name in os.environ}
    env.setdefault("PATH", "/usr/bin:/bin")
    env.update(extra)
    return env


def _run_logged(argv: list[str], env: dict[str, str], logs: Path, what: str) -> None:
    with open(logs, "ab") as out:
        done = subprocess.run(argv, env=env, stdout=out, stderr=subprocess.STDOUT,
                              stdin=subprocess.DEVNULL)
    if done.returncode != 0:
        raise StorageUnavailableError(f"{what} failed ({done.returncode}); see {logs}")


def _start(local: config.LocalSettings, name: str, argv: list[str],
           env: dict[str, str]) -> subprocess.Popen:
    """Run a daemon detached in the background, logging to ``logs/NAME.log``; record its pid."""
    with open(local.run_dir / "logs" / f"{name}.log", "ab") as out:
        process = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True,
                                   cwd=local.run_dir)
    (local.run_dir / f"{name}.pid").write_text(f"{process.pid}\n")
    return process


def _wait_ready(local: config.LocalSettings, name: str, process: subprocess.Popen, url: str,
                method: str = "GET") -> None:
    logs = local.run_dir / "logs" / f"{name}.log"
    deadline = time.monotonic() + local.storage_timeout
    while True:
        try:
            with urllib.request.urlopen(urllib.request.Request(url, method=method), timeout=2):
                return
        except (OSError, urllib.error.URLError):
            pass
        if process.poll() is not None:
            (local.run_dir / f"{name}.pid").unlink(missing_ok=True)
            raise StorageUnavailableError(
                f"{name} exited during start-up ({process.returncode}); last lines of {logs}:\n"
                f"{log_tail(logs)}")
        if time.monotonic() > deadline:
            raise StorageUnavailableError(
                f"{name} did not answer at {url} within {local.storage_timeout:.0f}s "
                f"(pid {process.pid} still running); last lines of {logs}:\n{log_tail(logs)}")
        time.sleep(0.3)


def _pid_of(local: config.LocalSettings, name: str) -> int | None:
    """The pid of our running daemon ``name``; a stale pid file (its process gone, or the
    pid reused by another program) names none."""
    try:
        pid = int((local.run_dir / f"{name}.pid").read_text().strip())
        command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except (OSError, ValueError):
        return None
    return pid if _COMMANDS[name] in command else None


def _stop(pid: int) -> bool:
    try:
        os.kill(pid, 15)
    except ProcessLookupError:
        return False
    for _ in range(50):
        if not Path(f"/proc/{pid}").exists():
            return True
        time.sleep(0.3)
    os.kill(pid, 9)
    return True


def _check_port_free(port: int, variable: str) -> None:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        if sock.connect_ex((HOST, port)) == 0:
            raise ConfigError(f"port {port} on {HOST} is taken by another program; set {variable}")
