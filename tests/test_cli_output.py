"""What the commands print, as the README says: a progress bar on a terminal for every
upload and download (and none with ``--json``, or when stderr is not a terminal), and
``--json`` for scripts on every command that offers it, with the fields a script needs.
The commands of deadlines and disputes run here against deadlines passed on the dev
chain (a block built at a later height)."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest

from tests.chain_fixtures import UNIT
from tests.fixtures import (as_json, block_number, create_task, jump_to, make_bundle,
                            make_result, model_result, ok, pallet_constant, send_result,
                            take_slot)

REPO = Path(__file__).resolve().parent.parent


def on_a_terminal(args, env: dict) -> tuple[int, str, str]:
    """Run ``python -m substrate_client ARGS`` with its stderr on a pseudo-terminal, as a
    person at a terminal would (stdout piped). Returns (exit code, stdout, what the
    terminal showed)."""
    master, slave = pty.openpty()
    process = subprocess.Popen([sys.executable, "-m", "substrate_client", *map(str, args)],
                               stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=slave,
                               env=env, cwd=REPO)
    os.close(slave)
    shown = bytearray()
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # the terminal closed: the command ended
            break
        if not data:
            break
        shown += data
    os.close(master)
    stdout = process.stdout.read().decode()
    process.stdout.close()
    return process.wait(timeout=120), stdout, shown.decode(errors="replace")


@pytest.fixture
def terminal(devnet_url, store, clean_settings):
    def run(*args, signer=None):
        env = {k: v for k, v in os.environ.items()}
        env.update(DECENTRALML_URL=devnet_url, DECENTRALML_LOCAL_STORE=str(store))
        if signer is not None:
            env["DECENTRALML_SURI"] = signer.mnemonic
        return on_a_terminal(args, env)

    return run


def test_uploads_and_downloads_draw_a_progress_bar_on_a_terminal(terminal, dml, account, tmp_path):
    creator, bob = account(), account()
    bundle = make_bundle(tmp_path, model_bytes=3_000_000)

    code, out, shown = terminal("create_task", "--bundle", bundle, "--question", "bars",
                                "--pays-amount", "1DML", "--max-assignments", 1, "--storage",
                                "local", signer=creator)
    assert code == 0, shown
    assert "uploading bundle" in shown and "100%" in shown and "MiB" in shown
    task_id = int(out.split("created task ", 1)[1].split()[0])

    code, out, shown = terminal("assign_task", task_id, "--dest", tmp_path / "task", signer=bob)
    assert code == 0, shown
    assert "downloading bundle" in shown and "MiB" in shown
    submission_id = int(out.split()[1].rstrip(":"))

    result = make_result(tmp_path, "result")
    (result / "weights.bin").write_bytes(os.urandom(2_000_000))
    code, out, shown = terminal("send_task_result", "--submission-id", submission_id,
                                "--result-path", result, signer=bob)
    assert code == 0, shown
    assert "uploading result" in shown and "100%" in shown

    code, out, shown = terminal("download_task_result", submission_id, "--dest", tmp_path / "got")
    assert code == 0, shown
    assert "downloading result" in shown and "MiB" in shown
    code, out, shown = terminal("fetch_bundle", task_id, "--dest", tmp_path / "again")
    assert code == 0, shown
    assert "downloading bundle" in shown

    # --json on a terminal: no bar, and stdout is the JSON alone.
    code, out, shown = terminal("--json", "fetch_bundle", task_id, "--dest", tmp_path / "json")
    assert code == 0, shown
    assert "downloading" not in shown and json.loads(out)["task_id"] == task_id
    # Not a terminal (click's runner): no bar either.
    piped = ok(dml("fetch_bundle", task_id, "--dest", tmp_path / "piped"))
    assert "downloading" not in piped.stderr


def test_validating_and_federating_draw_a_download_bar_on_a_terminal_only(
        terminal, dml, account, tmp_path, saved_model):
    creator = account()
    key = tmp_path / "result_key"
    ok(dml("keys", "generate", "--path", key))
    task_id = create_task(dml, creator, make_bundle(tmp_path, model_bytes=1000), storage="local",
                          pays="1DML", slots=3, strategy="CustomAccept",
                          result_key=key.with_suffix(".pub"))["task_id"]
    subs = []
    for n in range(3):  # each result sealed to the creator's key
        contributor = account()
        sub = take_slot(dml, contributor, task_id, tmp_path / f"task_{n}")
        send_result(dml, contributor, sub, model_result(saved_model, tmp_path / f"result_{n}",
                                                        samples=100 + n))
        subs.append(sub)
    validate = ("validate_task_results", task_id, "--no-evaluate", "--template", saved_model,
                "--result-key-file", key)

    code, out, shown = terminal(*validate, "--accept", subs[0], signer=creator)
    assert code == 0, shown
    assert f"downloading result {subs[0]}" in shown and "KiB" in shown  # bytes counted
    assert "accept" in out and "submitted 1 decision(s)" in out
    # --json on a terminal: no bar, and stdout is the JSON alone.
    code, out, shown = terminal("--json", *validate, "--accept", subs[1], signer=creator)
    assert code == 0, shown
    assert "downloading" not in shown
    assert [r["verdict"] for r in json.loads(out)["results"]] == ["accept"]
    # Not a terminal (click's runner): no bar either.
    piped = ok(dml(*validate, "--accept", subs[2], signer=creator))
    assert "downloading" not in piped.stderr

    federate = ("federate", "--task-id", task_id, "--template", saved_model,
                "--result-key-file", key)
    code, out, shown = terminal(*federate, "--out", tmp_path / "federated")
    assert code == 0, shown
    assert all(f"downloading result {sub}" in shown for sub in subs) and "KiB" in shown
    assert "federated 3 result(s)" in out
    code, out, shown = terminal("--json", *federate, "--out", tmp_path / "federated_json")
    assert code == 0, shown
    assert "downloading" not in shown and len(json.loads(out)["sources"]) == 3
    piped = ok(dml(*federate, "--out", tmp_path / "federated_piped"))
    assert "downloading" not in piped.stderr
    assert (tmp_path / "federated_piped" / "saved_model.pb").is_file()


def test_every_command_of_a_task_s_life_and_its_disputes_prints_json(
        dml, account, substrate, tmp_path):
    creator, bob, carol, dave, erin = (account() for _ in range(5))
    bundle = make_bundle(tmp_path, model_bytes=1000)
    task = create_task(dml, creator, bundle, storage="local", pays="1DML", slots=4,
                       extra=("--expires-in-blocks", pallet_constant(substrate, "MaxTaskDuration")))
    task_id = task["task_id"]
    subs = {}
    for name, who in (("bob", bob), ("carol", carol), ("dave", dave), ("erin", erin)):
        subs[name] = take_slot(dml, who, task_id, tmp_path / name)
        if name != "carol":  # Carol never sends her result
            send_result(dml, who, subs[name], make_result(tmp_path, f"{name}_result"))

    rejected = as_json(dml("--json", "reject_task_result", subs["dave"], "--reason", "noise",
                           signer=creator))
    assert rejected == {"submission_id": subs["dave"], "status": "Rejected", "reason": "noise",
                        "block": rejected["block"]} and rejected["block"] > 0
    ok(dml("reject_task_result", subs["erin"], "--reason", "noise too", signer=creator))
    appealed = as_json(dml("--json", "appeal_rejection", subs["dave"], signer=dave))
    assert appealed["submission_id"] == subs["dave"] and appealed["status"] == "Appealed"
    overturned = as_json(dml("--json", "arbitrate", subs["dave"], "--overturn",
                             env={"DECENTRALML_SURI": "//Alice"}))  # the dev chain's sudo key
    assert overturned["submission_id"] == subs["dave"] and overturned["overturned"] is True

    shown = as_json(dml("--json", "show_task", task_id))
    deadlines = shown["deadlines"]
    assert set(deadlines) >= {"result_timeout", "review_period", "appeal_period"}
    longest = max(pallet_constant(substrate, name) for name in
                  ("ResultTimeout", "ReviewPeriod", "AppealPeriod"))
    jump_to(substrate, block_number(substrate) + longest + 2)

    claimed = as_json(dml("--json", "claim_reward", subs["bob"], signer=bob))
    assert claimed["submission_id"] == subs["bob"] and claimed["paid"] == UNIT
    timed_out = as_json(dml("--json", "time_out_slot", subs["carol"], signer=creator))
    assert timed_out["submission_id"] == subs["carol"]
    assert timed_out["forfeited"] == pallet_constant(substrate, "AssignmentDeposit")
    released = as_json(dml("--json", "release_rejection", subs["erin"], signer=erin))
    assert released == {"submission_id": subs["erin"], "status": "final", "block": released["block"]}
    states = {s["submission_id"]: s["status"] for s in
              as_json(dml("list_task_results", task_id, "--json"))}
    assert states[subs["bob"]] == "Accepted" and states[subs["dave"]] == "Accepted"

    record = as_json(dml("--json", "show_account", creator.ss58_address))
    assert record["address"] == creator.ss58_address
    assert record["as_creator"]["results_accepted"] == 2  # Bob's (claimed) and Dave's (overturned)
    assert record["as_creator"]["results_rejected"] >= 1
    assert 0 < record["as_creator"]["acceptance_rate"] < 1
    as_contributor = as_json(dml("--json", "show_account", carol.ss58_address))["as_contributor"]
    assert as_contributor["slots_taken"] == 1 and as_contributor["slots_timed_out"] == 1

    closed = as_json(dml("--json", "close_task", task_id, signer=creator))
    assert closed["task_id"] == task_id and closed["paid_on_close"] == 0
    jump_to(substrate, block_number(substrate) + pallet_constant(substrate, "RemovalDelay") + 2)
    removed = as_json(dml("--json", "remove_task", task_id, signer=bob))  # anyone may
    assert removed == {"task_id": task_id, "removed": True, "block": removed["block"]}
    gone = dml("show_task", task_id)
    assert gone.exit_code == 1 and "TaskNotFound" in gone.stderr
    # Records gone, deposits back: nothing of anyone's stays held.
    for who in (creator, bob, carol, dave, erin):
        assert as_json(dml("--json", "balance", who.ss58_address))["reserved"] == 0


def test_accepting_several_and_the_reading_commands_print_json(dml, account, devnet_url, tmp_path):
    creator, bob, carol = account(), account(), account()
    task_id = create_task(dml, creator, make_bundle(tmp_path, model_bytes=1000), storage="local",
                          pays="1DML", slots=2)["task_id"]
    subs = []
    for name, who in (("bob", bob), ("carol", carol)):
        sub = take_slot(dml, who, task_id, tmp_path / name)
        send_result(dml, who, sub, make_result(tmp_path, f"{name}_result"))
        subs.append(sub)

    accepted = as_json(dml("--json", "accept_task_result", *subs, signer=creator))

    assert [(r["submission_id"], r["status"], r["paid"]) for r in accepted] == \
        [(subs[0], "Accepted", UNIT), (subs[1], "Accepted", UNIT)]
    assert accepted[0]["block"] == accepted[1]["block"]  # one transaction
    mine = as_json(dml("--json", "list_tasks", "--creator", creator.ss58_address))
    assert [t["task_id"] for t in mine] == [task_id]
    assert mine[0]["escrow"] == 0 and mine[0]["pays_amount"] == UNIT
    balance = as_json(dml("--json", "balance", bob.ss58_address))
    assert set(balance) >= {"address", "free", "reserved"} and balance["free"] > 0
    port = int(devnet_url.rsplit(":", 1)[1])
    status = as_json(dml("--json", "devnet", "status", "--port", port))
    assert status["running"] is True and status["port"] == port and status["block_number"] > 0
