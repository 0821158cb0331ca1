"""The network tier: fault tests against the local validators of our own node that
``bash scripts/network.sh up`` starts (Alice, Bob, Charlie, Dave; Aura blocks, GRANDPA
finality). GRANDPA finalizes with more than two thirds of the votes, so these tests need four
validators: one of four may be down and blocks are still finalized, two may not.

Not part of the default run: these tests are collected only when the network run asks for
them (``scripts/test.sh --network`` sets DECENTRALML_TEST_NETWORK_URL) or when this folder
or one of its files is named on pytest's command line. They stop and restart validators
through ``scripts/network.sh stop-node/start-node`` and bring every stopped one back
afterwards. The ports are the script's own (DECENTRALML_NETWORK_RPC_PORT, 9944 + 0/1/2/3).
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
NETWORK_SCRIPT = ROOT / "scripts" / "network.sh"
ALL_NAMES = ("alice", "bob", "charlie", "dave", "eve", "ferdie")
#: Aura's authorities in storage: twox128("Aura") ++ twox128("Authorities").
AURA_AUTHORITIES = "0x57f8dc2f5ab09467896f47300f0424385e0621c4869aa60c02be9adcc98a0d1d"


def pytest_ignore_collect(collection_path: Path, config: pytest.Config):
    """Leave this folder out unless the network run or the command line asks for it."""
    if os.environ.get("DECENTRALML_TEST_NETWORK_URL"):
        return None
    base = Path(config.invocation_params.dir)
    for arg in config.args:
        named = (base / arg.split("::")[0]).resolve()
        if named == HERE or HERE in named.parents:
            return None
    return True


def rpc(port: int, method: str, params: list | None = None, timeout: float = 5):
    """One JSON-RPC request over HTTP (the node serves HTTP and WebSocket on one port)."""
    body = json.dumps({"id": 1, "jsonrpc": "2.0", "method": method, "params": params or []})
    request = urllib.request.Request(f"http://127.0.0.1:{port}", body.encode(),
                                     {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read(1 << 20))["result"]


@dataclass
class Head:
    peers: int
    best: int
    finalized: int


@dataclass
class Validators:
    """The running network: each validator's RPC port, its heads, and stopping or starting
    one through scripts/network.sh (so its data is kept and it catches up on return)."""

    rpc_base: int
    names: tuple[str, ...]
    stopped: set[str] = field(default_factory=set)

    def port(self, name: str) -> int:
        return self.rpc_base + self.names.index(name)

    def url(self, name: str = "alice") -> str:
        return f"ws://127.0.0.1:{self.port(name)}"

    def head(self, name: str) -> Head:
        port = self.port(name)
        finalized_hash = rpc(port, "chain_getFinalizedHead")
        return Head(peers=int(rpc(port, "system_health")["peers"]),
                    best=int(rpc(port, "chain_getHeader")["number"], 16),
                    finalized=int(rpc(port, "chain_getHeader", [finalized_hash])["number"], 16))

    def script(self, *args: str, timeout: float = 300) -> str:
        done = subprocess.run(["bash", str(NETWORK_SCRIPT), *args], capture_output=True, text=True,
                              timeout=timeout, env=script_env())
        assert done.returncode == 0, \
            f"scripts/network.sh {' '.join(args)} failed (exit {done.returncode}):\n{done.stderr}"
        return done.stdout + done.stderr

    def stop(self, name: str) -> None:
        self.script("stop-node", name)
        self.stopped.add(name)

    def start(self, name: str) -> None:
        self.script("start-node", name)
        self.stopped.discard(name)

    def wait_for(self, what: str, condition, timeout: float = 120, every: float = 2):
        """Poll ``condition()`` until it returns something true; fail naming ``what``."""
        deadline = time.monotonic() + timeout
        while True:
            value = condition()
            if value:
                return value
            if time.monotonic() > deadline:
                heads = {n: self.head(n) for n in self.names if n not in self.stopped}
                pytest.fail(f"{what}: not after {timeout:.0f} s (heads: {heads})", pytrace=False)
            time.sleep(every)


def alice_rpc_port() -> int:
    """Alice's RPC port: the script's setting, else the network run's URL, else 9944."""
    if os.environ.get("DECENTRALML_NETWORK_RPC_PORT"):
        return int(os.environ["DECENTRALML_NETWORK_RPC_PORT"])
    url = os.environ.get("DECENTRALML_TEST_NETWORK_URL")
    return (urllib.parse.urlsplit(url).port or 9944) if url else 9944


def script_env(**extra: str) -> dict[str, str]:
    """The environment for scripts/network.sh: the ports these tests use, and ``extra``."""
    return {**os.environ, "DECENTRALML_NETWORK_RPC_PORT": str(alice_rpc_port()), **extra}


@pytest.fixture(scope="session")
def network() -> tuple[int, tuple[str, ...]]:
    """(Alice's RPC port, the validators' names) of a running network of four or more
    validators; fails (never skips) naming the command that starts it when it is not there."""
    base = alice_rpc_port()
    try:
        count = int(rpc(base, "state_getStorage", [AURA_AUTHORITIES])[2:4], 16) >> 2
    except (OSError, TypeError, ValueError):
        count = 0
    names = ALL_NAMES[:max(count, 1)]
    status = subprocess.run(["bash", str(NETWORK_SCRIPT), "status"], capture_output=True,
                            text=True, timeout=60, env=script_env())
    heads = []
    for offset in range(len(names)):
        try:
            heads.append(rpc(base + offset, "system_health"))
        except OSError:
            heads.append(None)
    if count == 0 or status.returncode != 0 or None in heads:
        pytest.fail(
            f"the validators' network is not running (RPC from 127.0.0.1:{base}): run "
            "`bash scripts/network.sh up` first\n" + status.stdout, pytrace=False)
    if count < 4:
        pytest.fail(f"the network has {count} validators; GRANDPA needs more than two thirds of "
                    "them, so with fewer than four no fault is tolerated: run "
                    "`bash scripts/network.sh down && bash scripts/network.sh up` (four by default)",
                    pytrace=False)
    return base, names


@pytest.fixture
def validators(network):
    """The network, with every validator a test stopped started again afterwards."""
    running = Validators(*network)
    yield running
    for name in sorted(running.stopped):
        running.start(name)
