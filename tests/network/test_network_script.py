"""scripts/network.sh and scripts/node.sh as a user meets them: what they report about the
running network, and the clear errors (with nothing started) when something is missing or
in the way."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from tests.network.conftest import NETWORK_SCRIPT, ROOT, script_env

NODE_SCRIPT = ROOT / "scripts" / "node.sh"


def run(script: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(script), *args], capture_output=True, text=True,
                          timeout=120, env=script_env(**env))


def test_status_shows_every_validator_with_peers_and_heads(validators):
    done = run(NETWORK_SCRIPT, "status")
    assert done.returncode == 0, done.stderr
    peers = len(validators.names) - 1
    for name in validators.names:
        line = next(l for l in done.stdout.splitlines() if l.startswith(name))
        assert re.search(rf"running \(pid \d+\)\s+{peers} peers\s+best #\d+\s+finalized #\d+", line), line
        assert f"ws://127.0.0.1:{validators.port(name)}" in line


def test_up_without_a_built_node_names_the_build_command_and_starts_nothing(tmp_path):
    done = run(NETWORK_SCRIPT, "up", DECENTRALML_NETWORK_DIR=str(tmp_path / "net"),
               DECENTRALML_NODE_TARGET=str(tmp_path / "no-target"),
               DECENTRALML_NETWORK_RPC_PORT="19944", DECENTRALML_NETWORK_P2P_PORT="19933")
    assert done.returncode == 1
    assert "the node is not built" in done.stderr and "bash scripts/node.sh build" in done.stderr
    assert not (tmp_path / "net").exists()


def test_node_path_and_status_say_when_the_node_is_not_built(tmp_path):
    target = str(tmp_path / "no-target")
    done = run(NODE_SCRIPT, "path", DECENTRALML_NODE_TARGET=target)
    assert done.returncode == 1 and done.stdout == ""
    assert "the node is not built" in done.stderr
    done = run(NODE_SCRIPT, "status", DECENTRALML_NODE_TARGET=target)
    assert done.returncode == 0 and "built:    no" in done.stdout


def test_node_path_is_the_binary_that_runs():
    done = run(NODE_SCRIPT, "path")
    assert done.returncode == 0, done.stderr
    version = subprocess.run([done.stdout.strip(), "--version"], capture_output=True, text=True)
    assert version.returncode == 0 and version.stdout.startswith("decentralml-node")


def test_a_taken_port_is_named_and_nothing_is_left_running(validators, tmp_path):
    # A second network on the running one's RPC ports.
    done = run(NETWORK_SCRIPT, "up", DECENTRALML_NETWORK_DIR=str(tmp_path / "net"),
               DECENTRALML_NETWORK_P2P_PORT="19933")
    assert done.returncode == 1
    assert f"port {validators.port('alice')} (for alice) is taken" in done.stderr
    assert not list((tmp_path / "net").glob("*/node.pid"))


def test_bad_names_and_options_exit_2():
    assert run(NETWORK_SCRIPT, "stop-node", "mallory").returncode == 2
    assert run(NETWORK_SCRIPT, "up", "--fast").returncode == 2
    assert run(NETWORK_SCRIPT, "status", DECENTRALML_NETWORK_RPC_PORT="x").returncode == 2
    assert run(NODE_SCRIPT, "build", "--now").returncode == 2
