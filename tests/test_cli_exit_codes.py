"""README: "exit codes 0 (done), 2 (your input was wrong: nothing was changed) and 1 (the
chain or storage failed)". Every way this test knows to give a command wrong input exits
2 with one ``error:`` line naming the problem, and leaves the chain (next task and
submission ids, balances, the statuses of the task's results) and the store as they were."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.chain_fixtures import UNIT, fresh_account
from tests.fixtures import (balances, create_task, invoke, make_bundle, make_result,
                            pallet_constant, send_result, take_slot)


@dataclass
class World:
    """A creator's tasks and a contributor's slots on the dev chain, for every case."""

    url: str
    root: Path
    store: Path
    creator: object
    bob: object
    task: int  # 2 slots: Bob's result pending, one slot free
    idle_task: int  # its bundle has no start_task.sh
    network_task: int  # its bundle asks for the network
    pending: int  # Bob's pending result in ``task``
    assigned: int  # Bob's slot in ``idle_task``, no result yet
    bundle: Path
    result: Path
    result_key: Path

    def run(self, *args, signer=None, env=None):
        settings = {"DECENTRALML_URL": self.url, "DECENTRALML_LOCAL_STORE": str(self.store),
                    "DECENTRALML_CONFIG": str(self.root / "no-config.toml"),
                    "DECENTRALML_SURI": None, "DECENTRALML_KEY_FILE": None}
        if signer is not None:
            settings["DECENTRALML_SURI"] = signer.mnemonic
        settings.update(env or {})
        return invoke(args, env=settings)


@pytest.fixture(scope="module")
def world(devnet_url, substrate, dev_keys, tmp_path_factory) -> World:
    root = tmp_path_factory.mktemp("exit2")
    creator = fresh_account(substrate, dev_keys["alice"], 1000 * UNIT)
    bob = fresh_account(substrate, dev_keys["alice"], 1000 * UNIT)
    store = root / "store"

    def dml(*args, signer=None):
        return invoke(args, env={"DECENTRALML_URL": devnet_url, "DECENTRALML_LOCAL_STORE": str(store),
                                 "DECENTRALML_CONFIG": str(root / "no-config.toml"),
                                 "DECENTRALML_SURI": signer.mnemonic if signer else None})

    bundle = make_bundle(root, model_bytes=1000)
    task = create_task(dml, creator, bundle, storage="local", pays="1DML", slots=2)["task_id"]
    idle_task = create_task(dml, creator, make_bundle(root, None, name="no_script", model_bytes=1000),
                            storage="local", pays="1DML", slots=2)["task_id"]
    network_task = create_task(dml, creator,
                               make_bundle(root, name="network", model_bytes=1000,
                                           task_settings={"NETWORK": True}),
                               storage="local", pays="1DML", slots=1)["task_id"]
    pending = take_slot(dml, bob, task, root / "bob_task")
    send_result(dml, bob, pending, make_result(root, "bob_result"))
    assigned = take_slot(dml, bob, idle_task, root / "bob_idle")
    key = root / "keys" / "result_key"
    assert dml("keys", "generate", "--path", key).exit_code == 0
    return World(devnet_url, root, store, creator, bob, task, idle_task, network_task, pending,
                 assigned, bundle, make_result(root, "another_result"), key)


def snapshot(substrate, world: World) -> dict:
    """What a command could change: the chain's counters, the accounts' balances, the
    statuses of the tasks' results, the tasks, and every file in the store."""
    submissions = {}
    for task_id in (world.task, world.idle_task, world.network_task):
        for key, _ in substrate.query_map("DecentralML", "TaskSubmissions", [task_id]):
            sub_id = int(key.value if hasattr(key, "value") else key)
            submissions[sub_id] = substrate.query("DecentralML", "Submissions", [sub_id]).value["status"]
    tasks = {t: substrate.query("DecentralML", "Tasks", [t]).value
             for t in (world.task, world.idle_task, world.network_task)}
    store = {str(p.relative_to(world.store)): p.stat().st_size
             for p in sorted(world.store.rglob("*"))} if world.store.exists() else {}
    return {
        "next_task_id": substrate.query("DecentralML", "NextTaskId").value,
        "next_submission_id": substrate.query("DecentralML", "NextSubmissionId").value,
        "balances": balances(substrate, world.creator, world.bob),
        "submissions": submissions,
        "tasks": tasks,
        "store": store,
    }


def _long(n: int) -> str:
    """Text of ``n`` bytes."""
    return "x" * n


# Each case: (id, make(world, substrate) -> (args, signer), the words the error must hold,
# or a function of the world giving them).
WALK_THROUGH_HOOK = Path(__file__).resolve().parent.parent / "assets" / "model_creator" / "hooks.py"

CASES = [
    # creating a task
    ("create: an amount that is not one",
     lambda w, s: (["create_task", "--bundle", w.bundle, "--question", "q", "--pays-amount", "lots",
                    "--max-assignments", 1, "--storage", "local"], w.creator), ["--pays-amount"]),
    ("create: a zero amount",
     lambda w, s: (["create_task", "--bundle", w.bundle, "--question", "q", "--pays-amount", "0",
                    "--max-assignments", 1, "--storage", "local"], w.creator), ["--pays-amount"]),
    ("create: an amount below the existential deposit",
     lambda w, s: (["create_task", "--bundle", w.bundle, "--question", "q", "--pays-amount", "1",
                    "--max-assignments", 1, "--storage", "local"], w.creator),
     ["existential deposit"]),
    ("create: more than the creator has",
     lambda w, s: (["create_task", "--bundle", w.bundle, "--question", "q", "--pays-amount",
                    "900DML", "--max-assignments", 2, "--storage", "local"], w.creator),
     ["free balance"]),
    ("create: no slots",
     lambda w, s: (["create_task", "--bundle", w.bundle, "--question", "q", "--pays-amount", "1DML",
                    "--max-assignments", 0, "--storage", "local"], w.creator), ["--max-assignments"]),
    ("create: more slots than the chain allows",
     lambda w, s: (["create_task", "--bundle", w.bundle, "--question", "q", "--pays-amount", "1DML",
                    "--max-assignments", pallet_constant(s, "MaxAssignments") + 1, "--storage",
                    "local"], w.creator), ["max_assignments", "more than the chain allows"]),
    ("create: a bundle folder that does not exist",
     lambda w, s: (["create_task", "--bundle", w.root / "missing", "--question", "q",
                    "--pays-amount", "1DML", "--max-assignments", 1, "--storage", "local"], w.creator),
     ["--bundle", "missing"]),
    ("create: a question longer than the chain takes",
     lambda w, s: (["create_task", "--bundle", w.bundle, "--question",
                    _long(pallet_constant(s, "MaxQuestionLen") + 1), "--pays-amount", "1DML",
                    "--max-assignments", 1, "--storage", "local"], w.creator), ["question"]),
    ("create: an empty question",
     lambda w, s: (["create_task", "--bundle", w.bundle, "--question", "  ", "--pays-amount", "1DML",
                    "--max-assignments", 1, "--storage", "local"], w.creator), ["question"]),
    ("create: two expirations",
     lambda w, s: (["create_task", "--bundle", w.bundle, "--question", "q", "--pays-amount", "1DML",
                    "--max-assignments", 1, "--storage", "local", "--expires-in-blocks", 100,
                    "--expiration-block", 10_000], w.creator), ["--expires-in-blocks"]),
    ("create: an expiration already passed",
     lambda w, s: (["create_task", "--bundle", w.bundle, "--question", "q", "--pays-amount", "1DML",
                    "--max-assignments", 1, "--storage", "local", "--expiration-block", 1], w.creator),
     ["too soon"]),
    ("create: an expiration too far",
     lambda w, s: (["create_task", "--bundle", w.bundle, "--question", "q", "--pays-amount", "1DML",
                    "--max-assignments", 1, "--storage", "local", "--expires-in-blocks",
                    pallet_constant(s, "MaxTaskDuration") + 10], w.creator), ["too far"]),
    ("create: a result key file that does not exist",
     lambda w, s: (["create_task", "--bundle", w.bundle, "--question", "q", "--pays-amount", "1DML",
                    "--max-assignments", 1, "--storage", "local", "--result-key",
                    w.root / "nokey.pub"], w.creator), ["nokey.pub"]),
    ("create: an unknown storage",
     lambda w, s: (["create_task", "--bundle", w.bundle, "--question", "q", "--pays-amount", "1DML",
                    "--max-assignments", 1, "--storage", "ftp"], w.creator), ["--storage"]),
    ("create: a DataAnnotator task without its labels",
     lambda w, s: (["create_task", "--bundle", w.bundle, "--question", "q", "--pays-amount", "1DML",
                    "--max-assignments", 1, "--storage", "local", "--task-type", "DataAnnotator"],
                   w.creator), ["--class-labels"]),
    ("create: class labels longer than the chain takes",
     lambda w, s: (["create_task", "--bundle", w.bundle, "--question", "q", "--pays-amount", "1DML",
                    "--max-assignments", 1, "--storage", "local", "--task-type", "DataAnnotator",
                    "--annotation-type", "box", "--class-labels", _long(5000)], w.creator),
     ["--class-labels", "5000 bytes"]),
    ("create: no signer",
     lambda w, s: (["create_task", "--bundle", w.bundle, "--question", "q", "--pays-amount", "1DML",
                    "--max-assignments", 1, "--storage", "local"], None), ["DECENTRALML_SURI"]),
    # taking a slot
    ("assign --run: a bundle without start_task.sh",
     lambda w, s: (["assign_task", w.idle_task, "--dest", w.root / "run_idle", "--run"], w.creator),
     ["start_task.sh"]),
    ("assign --run: a bundle asking for the network, without --allow-network",
     lambda w, s: (["assign_task", w.network_task, "--dest", w.root / "run_net", "--run"],
                   w.creator), ["--allow-network"]),
    ("assign: a shard beyond the number of shards",
     lambda w, s: (["assign_task", w.task, "--dest", w.root / "shard", "--shard-index", 3,
                    "--num-shards", 3], w.creator), ["--shard-index"]),
    ("assign: a folder that already exists",
     lambda w, s: (["assign_task", w.task, "--dest", w.bundle], w.creator), ["already exists"]),
    ("assign --run: a memory limit that is not a size",
     lambda w, s: (["assign_task", w.task, "--dest", w.root / "mem", "--run", "--memory", "lots"],
                   w.creator), ["--memory"]),
    # sending a result
    ("send: a result folder that does not exist",
     lambda w, s: (["send_task_result", "--submission-id", w.assigned, "--result-path",
                    w.root / "missing"], w.bob), ["missing"]),
    ("send: neither a folder nor a text",
     lambda w, s: (["send_task_result", "--submission-id", w.assigned], w.bob), ["--result-path"]),
    ("send: a result text longer than the chain takes",
     lambda w, s: (["send_task_result", "--submission-id", w.assigned, "--result",
                    _long(pallet_constant(s, "MaxResultLen") + 1)], w.bob), ["result"]),
    ("send: a slot that is not the signer's",
     lambda w, s: (["send_task_result", "--submission-id", w.assigned, "--result-path", w.result],
                   w.creator), ["belongs to"]),
    ("send: a slot that already has its result",
     lambda w, s: (["send_task_result", "--submission-id", w.pending, "--result-path", w.result],
                   w.bob), ["sent once"]),
    ("run_task: a slot that is not the signer's",
     lambda w, s: (["run_task", w.assigned, "--bundle", w.bundle], w.creator), ["not to the signer"]),
    ("run_task: a slot that already has its result",
     lambda w, s: (["run_task", w.pending, "--bundle", w.bundle], w.bob), ["only an assigned slot"]),
    # deciding
    ("validate: an id that is not a pending result",
     lambda w, s: (["validate_task_results", w.task, "--accept", 4_000_000, "--no-evaluate"],
                   w.creator), ["4000000"]),
    ("validate: an id already decided or never sent",
     lambda w, s: (["validate_task_results", w.idle_task, "--accept", w.assigned, "--no-evaluate"],
                   w.creator), lambda w: [str(w.assigned), "not pending"]),
    ("validate: a hook and ids together",
     lambda w, s: (["validate_task_results", w.task, "--hook", "x.py:f", "--accept", w.pending],
                   w.creator), ["--hook"]),
    ("validate: a hook on a ManualAccept task",
     lambda w, s: (["validate_task_results", w.task, "--hook", f"{WALK_THROUGH_HOOK}:accuracy_threshold",
                    "--no-evaluate"], w.creator), ["ManualAccept", "--hook"]),
    ("validate: a hook file that does not exist",
     lambda w, s: (["validate_task_results", w.task, "--hook", f"{w.root}/nohook.py:judge",
                    "--no-evaluate"], w.creator), ["nohook.py"]),
    ("validate: a results folder that exists",
     lambda w, s: (["validate_task_results", w.task, "--accept", w.pending, "--results-dir",
                    w.bundle, "--no-evaluate"], w.creator), ["already exists"]),
    ("validate: a result key file that does not exist",
     lambda w, s: (["validate_task_results", w.task, "--result-key-file", w.root / "nokey",
                    "--accept", w.pending], w.creator), ["nokey"]),
    ("validate: one id both accepted and rejected",
     lambda w, s: (["validate_task_results", w.task, "--accept", w.pending, "--reject", w.pending,
                    "--no-evaluate"], w.creator), ["both"]),
    ("validate: not the task's creator, with no model of one's own",
     lambda w, s: (["validate_task_results", w.task, "--accept", w.pending, "--no-evaluate"], w.bob),
     ["creator's", "--template"]),
    ("federate: not the task's creator, with no model of one's own",
     lambda w, s: (["federate", "--task-id", w.task, "--out", w.root / "fed"], w.bob),
     ["creator's", "--template"]),
    ("reject: a reason longer than the chain takes",
     lambda w, s: (["reject_task_result", w.pending, "--reason",
                    _long(pallet_constant(s, "MaxReasonLen") + 1)], w.creator), ["reason"]),
    ("close: results still pending",
     lambda w, s: (["close_task", w.task], w.creator), ["pending", "--pay-pending"]),
    ("federate: result folders without a template",
     lambda w, s: (["federate", w.result, "--out", w.root / "fed"], w.creator), ["--template"]),
    ("federate: an output folder that exists",
     lambda w, s: (["federate", "--task-id", w.task, "--out", w.bundle], w.creator),
     ["already exists"]),
    ("federate: neither folders nor a task",
     lambda w, s: (["federate", "--out", w.root / "fed"], w.creator), ["--task-id"]),
    # reading and keys
    ("download: a submission with no stored result",
     lambda w, s: (["download_task_result", w.assigned, "--dest", w.root / "got"], None),
     ["no stored result"]),
    ("fetch_bundle: a folder that already exists",
     lambda w, s: (["fetch_bundle", w.task, "--dest", w.bundle], None), ["already exists"]),
    ("keys generate: a key that already exists",
     lambda w, s: (["keys", "generate", "--path", w.result_key], None), ["already exists"]),
    ("an id that is not a number",
     lambda w, s: (["show_task", "seven"], None), ["seven"]),
    ("balance: an address that is not one",
     lambda w, s: (["balance", "not-an-address"], None), ["not-an-address"]),
]


@pytest.mark.parametrize("case_id, make, words", CASES, ids=[c[0] for c in CASES])
def test_wrong_input_exits_2_naming_the_problem_and_changes_nothing(
        world, substrate, case_id, make, words):
    args, signer = make(world, substrate)
    words = words(world) if callable(words) else words
    before = snapshot(substrate, world)

    result = world.run(*args, signer=signer)

    assert result.exit_code == 2, f"exit {result.exit_code}\n{result.output}\n{result.stderr}"
    error = [line for line in result.stderr.splitlines() if line.strip()]
    assert "Traceback" not in result.output
    text = " ".join(error)
    for word in words:
        assert word in text, f"{word!r} not in the error: {text}"
    assert snapshot(substrate, world) == before
