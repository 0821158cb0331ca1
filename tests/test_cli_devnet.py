"""``decentralml devnet up / status / down --json``, as a script runs them: a dev chain of
its own on a free port, with its own run folder (never the default one on 9944 a user
may run), each command a process of its own."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from substrateinterface import Keypair

from substrate_client import devnet as devnet_mod
from substrate_client.chain import connect
from substrate_client.errors import ConfigError
from tests.daemons import alive, on_a_free_port

REPO = Path(__file__).resolve().parent.parent


def test_devnet_up_status_and_down_print_json_saying_what_happened(tmp_path):
    run_dir = tmp_path / "run"
    env = {k: v for k, v in os.environ.items() if not k.startswith("DECENTRALML_")}
    env.update(DECENTRALML_RUN_DIR=str(run_dir), DECENTRALML_CONFIG=str(tmp_path / "none.toml"))
    if "DECENTRALML_CACHE" in os.environ:
        env["DECENTRALML_CACHE"] = os.environ["DECENTRALML_CACHE"]

    def devnet(*args, timeout=240):
        proc = subprocess.run([sys.executable, "-m", "substrate_client", "--json", "devnet",
                               *map(str, args)], cwd=REPO, env=env, capture_output=True,
                              text=True, timeout=timeout, stdin=subprocess.DEVNULL)
        return proc.returncode, json.loads(proc.stdout or "null"), proc.stderr

    def start(port):
        code, before, err = devnet("status", "--port", port)
        assert code == 3, err
        assert before["running"] is False and before["port"] == port and before["pid"] is None
        code, up, err = devnet("up", "--port", port)
        if code != 0:
            raise RuntimeError(err)  # another process took the port meanwhile: try another
        return up

    up = on_a_free_port(start)
    port, pid = up["port"], up["pid"]
    try:
        assert up["running"] is True
        assert up["url"] == f"ws://127.0.0.1:{port}" and up["block_number"] >= 0
        assert isinstance(pid, int) and alive(pid)
        assert Path(up["log_file"]) == run_dir / f"devnet-{port}.log"
        assert (run_dir / f"devnet-{port}.pid").read_text().strip() == str(pid)

        # A second `up` starts nothing: it reports the chain already running.
        code, again, err = devnet("up", "--port", port)
        assert code == 0, err
        assert again["pid"] == pid and again["running"] is True

        code, status, err = devnet("status", "--port", port)
        assert code == 0, err
        assert status == {**up, "block_number": status["block_number"]}
        assert status["block_number"] >= up["block_number"]

        code, down, err = devnet("down", "--port", port, timeout=60)
        assert code == 0, err
        assert down == {"stopped": True, "port": port}
        assert not alive(pid) and not (run_dir / f"devnet-{port}.pid").exists()

        code, after, err = devnet("status", "--port", port)
        assert code == 3 and after["running"] is False and after["pid"] is None
        code, down, err = devnet("down", "--port", port, timeout=60)
        assert code == 0 and down == {"stopped": False, "port": port}
    finally:
        if alive(pid):  # the test failed with our chain running
            subprocess.run([sys.executable, "-m", "substrate_client", "devnet", "down",
                            "--port", str(port)], cwd=REPO, env=env, capture_output=True,
                           timeout=60)


def test_a_batch_devnet_puts_transactions_sent_together_in_one_block(tmp_path, monkeypatch):
    """With --block-mode batch, transactions from several accounts sent at the same moment
    share a block (instant mode would build one block each), so a deadline counted in
    blocks keeps its length when many contributors send at once."""
    monkeypatch.setenv("DECENTRALML_RUN_DIR", str(tmp_path / "run"))
    state = on_a_free_port(lambda port: devnet_mod.up(port, block_mode="batch"))
    try:
        dest = Keypair.create_from_uri("//Ferdie").ss58_address
        senders = ["//Alice", "//Bob", "//Charlie", "//Dave"]
        calls = []
        for uri in senders:
            substrate = connect(state.url)
            call = substrate.compose_call("Balances", "transfer_keep_alive", {"dest": dest, "value": 10**12})
            calls.append((substrate, substrate.create_signed_extrinsic(call, Keypair.create_from_uri(uri))))
        start = connect(state.url).get_block_number(None)
        blocks: list[int] = []

        def send(substrate, extrinsic):
            receipt = substrate.submit_extrinsic(extrinsic, wait_for_inclusion=True)
            assert receipt.is_success, receipt.error_message
            blocks.append(substrate.get_block_number(receipt.block_hash))

        threads = [threading.Thread(target=send, args=pair) for pair in calls]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert len(blocks) == len(senders)
        # Sent within a moment of each other: fewer blocks than transactions.
        assert len(set(blocks)) < len(senders) and max(blocks) - start < len(senders)
    finally:
        devnet_mod.down(state.port)
    with pytest.raises(ConfigError, match="unknown block mode"):
        devnet_mod.up(state.port, block_mode="sometimes")


def test_the_instant_devnet_refuses_invalid_transactions_and_reports_every_watched_one(tmp_path, monkeypatch):
    """The dev chain validates a transaction on an executor thread of its own and tells a
    new head's subscribers without holding back the next block: the verdicts and the
    reports are still Chopsticks' own. A stale nonce and an account with nothing to pay
    the fee are refused at submission (1010); four transactions sent together each get
    "inBlock" then "finalized" for their block; a new-head subscriber sees every block,
    in order."""
    monkeypatch.setenv("DECENTRALML_RUN_DIR", str(tmp_path / "run"))
    state = on_a_free_port(lambda port: devnet_mod.up(port))
    try:
        substrate = connect(state.url)
        remark = substrate.compose_call("System", "remark", {"remark": "0x01"})
        alice = Keypair.create_from_uri("//Alice")
        landed = substrate.submit_extrinsic(
            substrate.create_signed_extrinsic(remark, alice), wait_for_inclusion=True)
        assert landed.is_success
        stale = substrate.create_signed_extrinsic(remark, alice, nonce=0)
        with pytest.raises(Exception, match="1010.*stale"):
            substrate.submit_extrinsic(stale, wait_for_inclusion=True)
        unfunded = substrate.create_signed_extrinsic(remark, Keypair.create_from_uri("//NobodyAtAll"))
        with pytest.raises(Exception, match="1010.*payment"):
            substrate.submit_extrinsic(unfunded, wait_for_inclusion=True)

        heads: list[int] = []
        watcher = connect(state.url)

        def follow_heads():
            def on_head(header, _update_nr, _subscription_id):
                heads.append(int(header["header"]["number"]))
                return True if len(heads) >= 6 else None
            watcher.subscribe_block_headers(on_head)

        follower = threading.Thread(target=follow_heads, daemon=True)
        follower.start()
        reports: dict[str, list[str]] = {}

        def send(uri: str) -> None:
            client = connect(state.url)
            extrinsic = client.create_signed_extrinsic(remark, Keypair.create_from_uri(uri))
            seen = reports.setdefault(uri, [])

            def on_update(message, _update_nr, _subscription_id):
                result = message["params"]["result"]
                status = next(iter(result)) if isinstance(result, dict) else str(result)
                seen.append(status)
                return True if status == "finalized" else None

            client.rpc_request("author_submitAndWatchExtrinsic", [str(extrinsic.data)], result_handler=on_update)

        senders = [threading.Thread(target=send, args=(uri,)) for uri in ("//Bob", "//Charlie", "//Dave", "//Eve")]
        for thread in senders:
            thread.start()
        for thread in senders:
            thread.join(timeout=120)
        assert sorted(reports) == ["//Bob", "//Charlie", "//Dave", "//Eve"]
        for uri, seen in reports.items():
            assert seen[-2:] == ["inBlock", "finalized"], (uri, seen)
        while len(heads) < 6:  # more blocks, so the subscriber has some to see
            substrate.submit_extrinsic(substrate.create_signed_extrinsic(remark, alice), wait_for_inclusion=True)
        follower.join(timeout=60)
        assert heads == list(range(heads[0], heads[0] + len(heads))), heads
    finally:
        devnet_mod.down(state.port)
