"""The local storage daemons: Kubo (IPFS, offline) and MinIO (S3), on 127.0.0.1.

``up`` starts each unless ours already runs and waits until it answers; ``down`` stops
only the ones started here (a pid file naming another program is stale); ``status`` says
what runs where; ``exports`` gives the settings the client needs (``decentralml storage
env`` prints them for ``eval``).

The binaries are the ones the install put in the cache (``~/.cache/decentralml``, or
``DECENTRALML_CACHE``: ``go/bin/``), else those on ``PATH``: nothing here reads the
source checkout, so an installed package starts them as well. Pid files, logs, data and
MinIO's credentials live under ``DECENTRALML_RUN_DIR`` (``kubo.pid``, ``minio.pid``,
``logs/``, ``ipfs/``, ``minio/data``, ``minio/credentials``). Each daemon gets an
environment of its own, without the caller's signer or credentials.

The pieces (:func:`find_binary`, :func:`daemon_env`, :func:`prepare_kubo`, :func:`spawn`,
:func:`wait_ready`) also start throw-away daemons elsewhere, as the tests do.
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
from typing import Callable

from . import config
from .errors import ConfigError, StorageUnavailableError
from .files import log_tail

log = logging.getLogger(__name__)

HOST = "127.0.0.1"
#: What each daemon's command line holds: a pid file naming another program is stale.
COMMANDS = {"kubo": "ipfs daemon", "minio": "minio server"}
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


@dataclass(frozen=True)
class DaemonStatus:
    """One daemon of ours: its pid when it runs, where it answers, its log."""

    name: str
    pid: int | None
    url: str
    log_file: Path

    @property
    def running(self) -> bool:
        return self.pid is not None


@dataclass(frozen=True)
class StorageStatus:
    kubo: DaemonStatus
    minio: DaemonStatus
    run_dir: Path

    @property
    def running(self) -> bool:
        """Whether both run."""
        return self.kubo.running and self.minio.running


# --------------------------------------------------------------------------- the daemons of run_dir


def up(local: config.LocalSettings | None = None) -> StorageServices:
    """Start Kubo and MinIO unless ours already run; return where they are."""
    local = local or config.local_settings()
    for folder in (local.run_dir, local.run_dir / "logs"):
        folder.mkdir(parents=True, exist_ok=True)
    _kubo_up(local)
    user, password = _minio_up(local)
    return StorageServices(ipfs_api=_ipfs_api(local), s3_endpoint=_s3_endpoint(local),
                           access_key=user, secret_key=password)


def down(local: config.LocalSettings | None = None) -> list[str]:
    """Stop the storage daemons of ours that run; return the names of those stopped."""
    local = local or config.local_settings()
    stopped = []
    for name in COMMANDS:
        pid = _pid_of(local, name)
        (local.run_dir / f"{name}.pid").unlink(missing_ok=True)
        if pid is not None and _stop(pid):
            log.info("%s stopped", name)
            stopped.append(name)
    return stopped


def status(local: config.LocalSettings | None = None) -> StorageStatus:
    """Which of our daemons run (by their pid files), and where."""
    local = local or config.local_settings()
    logs = local.run_dir / "logs"
    return StorageStatus(
        kubo=DaemonStatus("kubo", _pid_of(local, "kubo"), _ipfs_api(local), logs / "kubo.log"),
        minio=DaemonStatus("minio", _pid_of(local, "minio"), _s3_endpoint(local), logs / "minio.log"),
        run_dir=local.run_dir)


def exports(local: config.LocalSettings | None = None) -> dict[str, str]:
    """The environment the client needs to use the daemons ``up`` started: their URLs and
    MinIO's credentials. Raises :class:`ConfigError` before the first ``up``."""
    local = local or config.local_settings()
    credentials = local.run_dir / "minio" / "credentials"
    if not credentials.is_file():
        raise ConfigError(f"no MinIO credentials yet in {credentials}; "
                          "run `decentralml storage up` first")
    user, password = _read_credentials(credentials)
    return {"DECENTRALML_IPFS_API": _ipfs_api(local), "DECENTRALML_S3_ENDPOINT": _s3_endpoint(local),
            "AWS_ACCESS_KEY_ID": user, "AWS_SECRET_ACCESS_KEY": password}


def _ipfs_api(local: config.LocalSettings) -> str:
    return f"http://{HOST}:{local.ipfs_port}"


def _s3_endpoint(local: config.LocalSettings) -> str:
    return f"http://{HOST}:{local.s3_port}"


def _kubo_up(local: config.LocalSettings) -> None:
    pid = _pid_of(local, "kubo")
    api = _ipfs_api(local)
    if pid is not None:
        log.info("kubo already running (pid %d), API %s", pid, api)
        return
    _check_port_free(local.ipfs_port, "DECENTRALML_IPFS_PORT")
    ipfs = find_binary("ipfs", local)
    env = kubo_env(local.run_dir / "ipfs")
    logs = local.run_dir / "logs" / "kubo.log"
    prepare_kubo(ipfs, env, logs, local.ipfs_port, local.ipfs_gateway_port)
    process = _start(local, "kubo", [str(ipfs), "daemon", "--offline"], env)
    _wait(local, "kubo", process, lambda: answers(f"{api}/api/v0/version", method="POST"),
          f"{api}/api/v0/version")
    log.info("kubo up (pid %d), API %s", process.pid, api)


def _minio_up(local: config.LocalSettings) -> tuple[str, str]:
    folder = local.run_dir / "minio"
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o700)
    user, password = _minio_credentials(folder / "credentials")
    pid = _pid_of(local, "minio")
    endpoint = _s3_endpoint(local)
    if pid is not None:
        log.info("minio already running (pid %d), S3 %s", pid, endpoint)
        return user, password
    _check_port_free(local.s3_port, "DECENTRALML_S3_PORT")
    minio = find_binary("minio", local)
    (folder / "data").mkdir(exist_ok=True)
    process = _start(local, "minio", [
        str(minio), "server", str(folder / "data"), "--quiet", "--address", f"{HOST}:{local.s3_port}",
        "--console-address", f"{HOST}:{local.s3_console_port}"], minio_env(user, password))
    ready = f"{endpoint}/minio/health/ready"
    _wait(local, "minio", process, lambda: answers(ready), ready)
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
    return _read_credentials(path)


def _read_credentials(path: Path) -> tuple[str, str]:
    values = {}
    for line in path.read_text().splitlines():
        name, _, value = line.partition("=")
        values[name.strip()] = value.strip().strip("'\"")
    try:
        return values["MINIO_ROOT_USER"], values["MINIO_ROOT_PASSWORD"]
    except KeyError:
        raise ConfigError(f"{path} does not hold MINIO_ROOT_USER and MINIO_ROOT_PASSWORD; "
                          "remove it to make new credentials") from None


def _start(local: config.LocalSettings, name: str, argv: list[str],
           env: dict[str, str]) -> subprocess.Popen:
    """Run a daemon detached in the background, logging to ``logs/NAME.log``; record its pid."""
    process = spawn(argv, env, local.run_dir / "logs" / f"{name}.log", cwd=local.run_dir)
    (local.run_dir / f"{name}.pid").write_text(f"{process.pid}\n")
    return process


def _wait(local: config.LocalSettings, name: str, process: subprocess.Popen,
          ready: Callable[[], bool], url: str) -> None:
    try:
        wait_ready(name, process, ready, local.storage_timeout,
                   local.run_dir / "logs" / f"{name}.log", url)
    finally:
        if process.poll() is not None:
            (local.run_dir / f"{name}.pid").unlink(missing_ok=True)


def _pid_of(local: config.LocalSettings, name: str) -> int | None:
    """The pid of our running daemon ``name``; a stale pid file (its process gone, or the
    pid reused by another program) names none."""
    try:
        pid = int((local.run_dir / f"{name}.pid").read_text().strip())
        command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except (OSError, ValueError):
        return None
    return pid if COMMANDS[name] in command else None


def _stop(pid: int) -> bool:
    try:
        os.kill(pid, 15)
    except ProcessLookupError:
        return False
    for _ in range(50):
        if not Path(f"/proc/{pid}").exists():
            return True
        time.sleep(0.3)
    log.info("pid %d ignored SIGTERM; killing it", pid)
    os.kill(pid, 9)
    return True


def _check_port_free(port: int, variable: str) -> None:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        if sock.connect_ex((HOST, port)) == 0:
            raise ConfigError(f"port {port} on {HOST} is taken by another program; set {variable}")


# --------------------------------------------------------------------------- the pieces


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


def daemon_env(**extra: str) -> dict[str, str]:
    """A daemon's environment: what it needs to run, and none of the caller's settings."""
    env = {name: os.environ[name] for name in ("PATH", "HOME", "LANG", "TZ") if name in os.environ}
    env.setdefault("PATH", "/usr/bin:/bin")
    env.update(extra)
    return env


def kubo_env(repo: Path) -> dict[str, str]:
    """Kubo's environment, its repository at ``repo``."""
    return daemon_env(IPFS_PATH=str(repo), IPFS_TELEMETRY="off")


def minio_env(user: str, password: str, **extra: str) -> dict[str, str]:
    """MinIO's environment: its root credentials, no console, no update checks."""
    return daemon_env(MINIO_ROOT_USER=user, MINIO_ROOT_PASSWORD=password,
                      MINIO_BROWSER="off", MINIO_UPDATE="off", **extra)


def prepare_kubo(ipfs: Path, env: dict[str, str], log_file: Path, api_port: int,
                 gateway_port: int) -> None:
    """Make the repository at ``env["IPFS_PATH"]`` unless it exists, and set it to serve on
    127.0.0.1 only, offline (port 0: Kubo binds a free one and writes the API's address
    to ``IPFS_PATH/api``)."""
    repo = Path(env["IPFS_PATH"])
    if not (repo / "config").is_file():
        log.info("creating the IPFS repository in %s", repo)
        _run_logged([str(ipfs), "init", "--empty-repo"], env, log_file, "ipfs init")
    set_kubo_ports(ipfs, env, log_file, api_port, gateway_port)
    for args in _KUBO_CONFIG:
        _run_logged([str(ipfs), "config", *args], env, log_file, f"ipfs config {args[-2]}")


def set_kubo_ports(ipfs: Path, env: dict[str, str], log_file: Path, api_port: int,
                   gateway_port: int | None = None) -> None:
    """Set the ports of Kubo's API (and gateway) on 127.0.0.1 in its repository."""
    settings = [("Addresses.API", api_port), ("Addresses.Gateway", gateway_port)]
    for key, port in settings:
        if port is not None:
            _run_logged([str(ipfs), "config", key, f"/ip4/{HOST}/tcp/{port}"], env, log_file,
                        f"ipfs config {key}")


def spawn(argv: list[str], env: dict[str, str], log_file: Path, cwd: Path | None = None,
          detach: bool = True) -> subprocess.Popen:
    """Run ``argv`` in the background with ``env``, its output appended to ``log_file``;
    ``detach``: in a session of its own, so it outlives the caller."""
    with open(log_file, "ab") as out:
        return subprocess.Popen([str(a) for a in argv], env=env, stdout=out,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=detach, cwd=cwd)


def answers(url: str, method: str = "GET") -> bool:
    """Whether ``url`` answers with a success."""
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method=method), timeout=2):
            return True
    except (OSError, urllib.error.URLError):
        return False


def wait_ready(name: str, process: subprocess.Popen, ready: Callable[[], bool], timeout: float,
               log_file: Path, what: str = "ready check") -> None:
    """Wait until ``ready()`` (an ``OSError`` counts as not yet); raises
    :class:`StorageUnavailableError` with the log's last lines if the process exits first
    or ``timeout`` seconds pass (the process is left running)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if ready():
                return
        except OSError:
            pass
        if process.poll() is not None:
            raise StorageUnavailableError(
                f"{name} exited during start-up ({process.returncode}); last lines of {log_file}:\n"
                f"{log_tail(log_file)}")
        if time.monotonic() > deadline:
            raise StorageUnavailableError(
                f"{name} did not answer ({what}) within {timeout:.0f}s "
                f"(pid {process.pid} still running); last lines of {log_file}:\n{log_tail(log_file)}")
        time.sleep(0.3)


def _run_logged(argv: list[str], env: dict[str, str], log_file: Path, what: str) -> None:
    with open(log_file, "ab") as out:
        done = subprocess.run(argv, env=env, stdout=out, stderr=subprocess.STDOUT,
                              stdin=subprocess.DEVNULL)
    if done.returncode != 0:
        raise StorageUnavailableError(f"{what} failed ({done.returncode}); see {log_file}")
