"""The ``decentralml`` command line against the real dev chain (Chopsticks running our
runtime), with a local store in a temporary folder: every command's help has an
example, a task goes from a bundle folder to a closed task with everyone paid as
promised, and each kind of failure exits 1 or 2 with one ``error: ...`` line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from substrate_client import cli as cli_mod
from substrate_client.chain import same_account
from substrate_client.cli import format_amount, parse_amount
from substrate_client.errors import UserInputError
from substrate_client.demo import OPTIONS as ROUND_OPTIONS
from tests.chain_fixtures import UNIT
from tests.fixtures import (as_json, closed_port, create_task, files, invoke, make_bundle,
                            make_result, model_result, ok, one_error_line)

REPO = Path(__file__).resolve().parent.parent
CREATOR_DIR = REPO / "assets" / "model_creator"
SCRIPTS = Path(sys.executable).parent

COMMANDS = [
    [], ["create_task"], ["assign_task"], ["run_task"], ["fetch_bundle"], ["send_task_result"],
    ["list_tasks"], ["show_task"],
    ["list_task_results"], ["download_task_result"], ["validate_task_results"],
    ["accept_task_result"], ["reject_task_result"], ["close_task"], ["balance"], ["federate"],
    ["keys"], ["keys", "generate"], ["keys", "show"],
    ["devnet"], ["devnet", "up"], ["devnet", "down"], ["devnet", "status"], ["run_round"],
]

# No signer, chain or storage settings leak in from the developer's shell or config.
pytestmark = pytest.mark.usefixtures("clean_settings")


# --------------------------------------------------------------------------- without a chain


@pytest.mark.parametrize("path", COMMANDS, ids=lambda p: " ".join(p) or "decentralml")
def test_every_command_help_shows_an_example(path):
    result = ok(invoke(path + ["--help"]))
    assert "Example" in result.stdout
    example = [line.strip() for line in result.stdout.split("Example", 1)[1].splitlines()]
    command = " ".join(["decentralml", *path])
    assert any(line == command or line.startswith(command + " ") for line in example), example


@pytest.mark.parametrize("name", ["create_task", "assign_task", "send_task_result"])
def test_standalone_commands_take_the_global_options_and_show_their_own_name(name):
    entry = getattr(cli_mod, name)
    result = ok(invoke(["--help"], command=entry, prog=name))
    for flag in ("--url", "--key-file", "--json", "--ipfs-api", "--s3-endpoint", "--s3-bucket",
                 "--local-store"):
        assert flag in result.stdout
    example = [line.strip() for line in result.stdout.split("Example", 1)[1].splitlines()]
    assert any(line.startswith(f"{name} ") for line in example), example
    assert "--suri" not in result.stdout and "--mnemonic" not in result.stdout


def test_run_round_takes_the_options_of_the_round_module_and_the_global_ones():
    help_text = ok(invoke(["run_round", "--help"])).stdout
    own, services = help_text.split("\nOptions:\n", 1)[1].split("\nGlobal options:\n")

    def flags(section):
        return {line.split()[0].rstrip(",") for line in section.splitlines()
                if line.strip().startswith("-")}

    for option in ROUND_OPTIONS:
        if option.connection:  # --url, --ipfs-api, ... are the global options here
            assert option.flag in flags(services) and option.flag not in flags(own)
        else:
            assert option.flag in flags(own) and option.help in " ".join(own.split())


def test_run_round_checks_its_settings_before_starting_anything(tmp_path):
    run_dir = tmp_path / "run"
    with closed_port() as port:
        result = invoke(["run_round", "--out", run_dir, "--contributors", "Bob,Charlie",
                         "--saboteurs", "Eve", "--url", f"ws://127.0.0.1:{port}"])
    assert result.exit_code == 2
    assert "saboteurs eve are not among the contributors" in one_error_line(result)
    assert not run_dir.exists()


def test_run_round_gives_the_round_its_options_and_where_the_services_are(monkeypatch, tmp_path):
    from substrate_client import demo

    seen = []

    def fake_round(settings, report, **options):
        seen.append(settings)
        report("[1/1] pretending")
        return demo.RunSummary(run_dir=str(settings.run_dir), chain_url="ws://x",
                               started_at="now", token={"symbol": "DML", "decimals": 12})

    monkeypatch.setattr(demo, "run_round", fake_round)
    result = ok(invoke(["run_round", "--out", tmp_path / "run", "--saboteurs", "", "--json"],
                       env={"DECENTRALML_S3_ENDPOINT": "http://127.0.0.1:9"}))
    assert json.loads(result.stdout)["run_dir"] == str(tmp_path / "run")
    assert "[1/1] pretending" in result.stderr
    assert seen[-1].url is None  # no node configured: the round starts the dev chain
    assert (seen[-1].saboteurs, seen[-1].s3_endpoint) == ((), "http://127.0.0.1:9")
    ok(invoke(["--url", "ws://127.0.0.1:9", "run_round", "--out", tmp_path / "run2"]))
    assert seen[-1].url == "ws://127.0.0.1:9" and seen[-1].saboteurs == ("Eve",)


def test_amounts_are_planck_or_dml_with_twelve_decimals():
    assert parse_amount("5") == 5
    assert parse_amount("5DML") == 5 * UNIT
    assert parse_amount("0.5DML") == UNIT // 2
    assert parse_amount("0.5 dml") == UNIT // 2
    assert parse_amount("1_000") == 1000
    assert parse_amount("0.000000000001DML") == 1
    for bad in ("1.5", "lots", "5XYZ", "0.0000000000001DML", "-3"):
        with pytest.raises(UserInputError):
            parse_amount(bad)
    assert format_amount(UNIT // 2) == "0.5 DML"
    assert format_amount(15 * UNIT) == "15 DML"


@pytest.mark.parametrize("amount", ["lots", "0", "1.5", "-3", "5XYZ", "0.0000000000001DML"])
def test_a_bad_pays_amount_is_a_usage_error(tmp_path, amount):
    (tmp_path / "bundle").mkdir()
    result = invoke(["create_task", "--bundle", tmp_path / "bundle", "--question", "q",
                     "--pays-amount", amount, "--max-assignments", "1", "--storage", "local"],
                    env={"DECENTRALML_SURI": "//Alice", "DECENTRALML_URL": "ws://127.0.0.1:1"})
    assert result.exit_code == 2, result.output
    assert "--pays-amount" in result.stderr


def test_the_chain_url_comes_from_the_flag_then_the_environment_then_the_config_file(tmp_path):
    with closed_port() as flag, closed_port() as env, closed_port() as config:
        _check_the_url_tried(tmp_path, flag, env, config)


def _check_the_url_tried(tmp_path, flag: int, env: int, config: int) -> None:
    config_file = tmp_path / "config.toml"
    config_file.write_text(f'url = "ws://127.0.0.1:{config}"\nlocal_store = "{tmp_path}"\n')
    base = {"DECENTRALML_CONFIG": str(config_file)}

    def port_tried(args, extra=None):
        result = invoke(args + ["list_tasks"], env={**base, **(extra or {})})
        assert result.exit_code == 1
        return one_error_line(result)

    assert f":{config} " in port_tried([])
    assert f":{env} " in port_tried([], {"DECENTRALML_URL": f"ws://127.0.0.1:{env}"})
    assert f":{flag} " in port_tried(["--url", f"ws://127.0.0.1:{flag}"],
                                     {"DECENTRALML_URL": f"ws://127.0.0.1:{env}"})


def test_a_malformed_config_file_is_a_user_error(tmp_path):
    config_file = tmp_path / "config.toml"
    config_file.write_text("url = \n")
    result = invoke(["list_tasks"], env={"DECENTRALML_CONFIG": str(config_file)})
    assert result.exit_code == 2
    assert str(config_file) in one_error_line(result)


def test_an_unreachable_chain_exits_1_and_says_how_to_start_one():
    with closed_port() as port:
        result = invoke(["--url", f"ws://127.0.0.1:{port}", "list_tasks"])
    assert result.exit_code == 1
    assert "decentralml devnet up" in one_error_line(result)


def test_keys_generate_writes_a_pair_and_show_prints_only_the_public_key(tmp_path):
    path = tmp_path / "keys" / "result_key"
    made = as_json(invoke(["--json", "keys", "generate", "--path", path]))
    assert Path(made["public_key_path"]) == path.with_suffix(".pub")
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    shown = as_json(invoke(["keys", "show", "--path", path, "--json"]))
    assert shown["public_key"] == made["public_key"]
    private_hex = path.read_text().strip()
    assert private_hex not in invoke(["keys", "show", "--path", path]).output
    again = invoke(["keys", "generate", "--path", path])
    assert again.exit_code == 2 and "already exists" in one_error_line(again)


# --------------------------------------------------------------------------- on the dev chain


def create(dml, creator, bundle, *extra, slots: int, pays: str = "0.5DML") -> dict:
    """A task of these tests, on the local store."""
    return create_task(dml, creator, bundle, storage="local", pays=pays, slots=slots,
                       extra=extra)


def test_a_task_goes_from_a_bundle_folder_to_closed_with_everyone_paid(dml, account, tmp_path):
    creator, bob, carol = account(), account(), account()
    bundle = make_bundle(tmp_path)
    task = create(dml, creator, bundle, slots=2)
    task_id = task["task_id"]
    assert task["pays_amount"] == UNIT // 2 and task["escrow"] == UNIT and task["free_slots"] == 2
    assert same_account(task["creator"], creator.ss58_address)
    assert task["bundle"]["storage_type"] == "Local"

    listed = as_json(dml("list_tasks", "--status", "open", "--json"))
    assert task_id in [t["task_id"] for t in listed]
    table = ok(dml("list_tasks", "--creator", creator.ss58_address)).stdout
    assert "Train the MLP" in table and "0.5 DML" in table and "0/2" in table
    shown = ok(dml("show_task", task_id)).stdout
    assert "0.5 DML per accepted result" in shown and "2 free" in shown

    subs = {}
    for who in (bob, carol):
        dest = tmp_path / f"task_{who.ss58_address[:6]}"
        assigned = as_json(dml("--json", "assign_task", task_id, "--dest", dest, signer=who))
        assert files(Path(assigned["bundle_dir"])) == files(bundle)  # downloaded and verified
        assert os.access(dest / "start_task.sh", os.X_OK)
        subs[who.ss58_address] = assigned["submission_id"]
    sub_bob, sub_carol = subs[bob.ss58_address], subs[carol.ss58_address]

    results = {who: make_result(tmp_path / "results", who) for who in ("bob", "carol")}
    sent = as_json(dml("send_task_result", "--submission-id", sub_bob, "--result-path",
                       results["bob"], "--result", "accuracy=0.91", "--json", signer=bob))
    assert sent["status"] == "Pending" and sent["result"] == "accuracy=0.91"
    assert sent["result_location"]["storage_type"] == "Local"  # the bundle's storage by default
    human = ok(dml("send_task_result", "--submission-id", sub_carol, "--result-path",
                   results["carol"], signer=carol)).stdout
    assert f"sent the result of submission {sub_carol}" in human

    pending = as_json(dml("list_task_results", task_id, "--status", "pending", "--json"))
    assert [s["submission_id"] for s in pending] == sorted([sub_bob, sub_carol])
    downloaded = as_json(dml("download_task_result", sub_bob, "--dest", tmp_path / "got", "--json"))
    assert files(Path(downloaded["dest"])) == files(results["bob"])

    before = as_json(dml("balance", bob.ss58_address, "--json"))["free"]
    accepted = as_json(dml("--json", "accept_task_result", sub_bob, signer=creator))
    assert accepted == [{"submission_id": sub_bob, "status": "Accepted", "paid": UNIT // 2,
                         "block": accepted[0]["block"]}]
    assert as_json(dml("balance", bob.ss58_address, "--json"))["free"] == before + UNIT // 2
    rejected = ok(dml("reject_task_result", sub_carol, "--reason", "accuracy below 0.8",
                      signer=creator)).stdout
    assert "accuracy below 0.8" in rejected
    states = {s["submission_id"]: s for s in as_json(dml("list_task_results", task_id, "--json"))}
    assert states[sub_bob]["status"] == "Accepted"
    assert states[sub_carol]["status"] == "Rejected"
    assert states[sub_carol]["rejection_reason"] == "accuracy below 0.8"

    closed = as_json(dml("close_task", task_id, "--json", signer=creator))
    # Carol's reward stays held while she may appeal her rejection.
    assert (closed["paid_on_close"], closed["refunded"]) == (0, 0)
    shown = as_json(dml("show_task", task_id, "--json"))
    assert shown["status"] == "Closed" and shown["escrow"] == UNIT // 2
    assert shown["deadlines"]["appeal_period"] > 0
    mine = as_json(dml("balance", "--json", signer=creator))
    assert mine["address"] == creator.ss58_address
    assert mine["reserved"] == UNIT // 2 + shown["deposit"]  # the held reward and the task's deposit
    assert "DML" in ok(dml("balance", signer=creator)).stdout


def test_assign_task_run_starts_the_bundle_with_its_ids_and_passes_on_its_exit_code(
        dml, account, tmp_path):
    creator, bob = account(), account()
    script = textwrap.dedent("""\
        #!/usr/bin/env bash
        env | grep '^DECENTRALML_' > seen.env
        exit 7
        """)
    task_id = create(dml, creator, make_bundle(tmp_path, script), slots=1)["task_id"]
    result = dml("assign_task", task_id, "--dest", tmp_path / "task", "--run",
                 "--shard-index", 1, "--num-shards", 3, signer=bob)
    assert result.exit_code == 7, result.output
    assert "exited with code 7; nothing was sent" in result.stderr
    env = dict(line.split("=", 1) for line in (tmp_path / "task" / "seen.env").read_text().splitlines())
    submission_id = int(result.stdout.split()[1].rstrip(":"))
    assert env["DECENTRALML_SUBMISSION_ID"] == str(submission_id)
    assert env["DECENTRALML_TASK_ID"] == str(task_id)
    assert env["DECENTRALML_CONTRIBUTOR_ID"] == bob.ss58_address[:8]
    assert (env["DECENTRALML_SHARD_INDEX"], env["DECENTRALML_NUM_SHARDS"]) == ("1", "3")
    assert "DECENTRALML_SURI" not in env and "DECENTRALML_URL" not in env


def test_assign_task_run_sends_the_result_the_bundle_leaves_with_the_settings_it_was_given(
        dml, account, tmp_path):
    """The bundle only leaves its result in output/; the client stores and sends it with
    the URL, local store and key file given to assign_task."""
    creator, bob = account(), account()
    key_file = tmp_path / "bob.key"
    key_file.write_text(bob.mnemonic + "\n")
    key_file.chmod(0o600)
    script = textwrap.dedent("""\
        #!/usr/bin/env bash
        set -euo pipefail
        mkdir -p output/result && echo weights > output/result/model.txt
        echo graph > output/result/saved_model.pb
        """)
    task_id = create(dml, creator, make_bundle(tmp_path, script), slots=1)["task_id"]
    sent = as_json(dml("--key-file", key_file, "--json", "assign_task", task_id, "--dest",
                       tmp_path / "task", "--run"))
    [sub] = as_json(dml("list_task_results", task_id, "--json"))
    assert same_account(sub["contributor"], bob.ss58_address) and sub["status"] == "Pending"
    assert (sent["submission_id"], sent["task_id"]) == (sub["submission_id"], task_id)
    assert Path(sent["result_dir"]).resolve() == (tmp_path / "task" / "output" / "result").resolve()
    assert sent["status"] == "Pending" and sent["result_location"] == sub["result_location"]
    assert files(Path(as_json(dml("download_task_result", sub["submission_id"], "--dest",
                                  tmp_path / "got", "--json"))["dest"])) == {
        "model.txt": b"weights\n", "saved_model.pb": b"graph\n"}


def test_an_unknown_task_exits_1_naming_task_not_found(dml, account):
    result = dml("show_task", 4_000_000)
    assert result.exit_code == 1
    assert one_error_line(result).startswith("error: TaskNotFound: ")
    result = dml("assign_task", 4_000_000, signer=account())
    assert result.exit_code == 1 and "TaskNotFound" in one_error_line(result)


def test_a_pallet_error_prints_its_name_and_documentation(dml, account, substrate, tmp_path):
    creator, bob, carol = account(), account(), account()
    task_id = create(dml, creator, make_bundle(tmp_path), slots=1)["task_id"]
    ok(dml("assign_task", task_id, "--dest", tmp_path / "bob", signer=bob))
    result = dml("assign_task", task_id, "--dest", tmp_path / "carol", signer=carol)
    assert result.exit_code == 1
    line = one_error_line(result)
    # The pallet's own explanation, as the chain's metadata carries it.
    [docs] = [" ".join(d.strip() for d in e.docs) for e in
              substrate.metadata.get_metadata_pallet("DecentralML").errors if e.name == "NoSlotsLeft"]
    assert len(docs.split()) > 3 and line == f"error: NoSlotsLeft: {docs}"
    assert not (tmp_path / "carol").exists()


def test_without_a_signer_create_task_exits_2_and_creates_nothing(dml, tmp_path):
    before = len(as_json(dml("list_tasks", "--json")))
    result = dml("create_task", "--bundle", make_bundle(tmp_path), "--question", "q",
                 "--pays-amount", "1DML", "--max-assignments", 1, "--storage", "local")
    assert result.exit_code == 2
    assert "DECENTRALML_SURI" in one_error_line(result)
    assert len(as_json(dml("list_tasks", "--json"))) == before


def test_a_bad_signer_secret_is_a_user_error_that_never_echoes_the_secret(dml, tmp_path):
    secret = "correct horse battery staple not a mnemonic"
    result = dml("-vv", "balance", env={"DECENTRALML_SURI": secret})
    assert result.exit_code == 2
    one_error_line(result)
    assert secret not in result.output and "staple" not in result.output


def test_the_signer_secret_is_never_printed_even_when_verbose(dml, account, tmp_path):
    creator = account()
    result = ok(dml("-vv", "create_task", "--bundle", make_bundle(tmp_path), "--question", "q",
                    "--pays-amount", "1DML", "--max-assignments", 1, "--storage", "local",
                    signer=creator))
    assert "info: " in result.stderr  # verbose indeed
    assert creator.mnemonic not in result.output


def test_a_result_path_that_does_not_exist_exits_2_and_sends_nothing(dml, account, tmp_path):
    creator, bob = account(), account()
    task_id = create(dml, creator, make_bundle(tmp_path), slots=1)["task_id"]
    sub = as_json(dml("--json", "assign_task", task_id, "--dest", tmp_path / "t", signer=bob))
    result = dml("send_task_result", "--submission-id", sub["submission_id"], "--result-path",
                 tmp_path / "missing", signer=bob)
    assert result.exit_code == 2
    assert "missing" in result.stderr
    [state] = as_json(dml("list_task_results", task_id, "--json"))
    assert state["status"] == "Assigned" and state["result_location"] is None


def test_the_installed_console_scripts_run(devnet_url, account, tmp_path):  # noqa: F811
    creator = account()
    env = {**os.environ, "DECENTRALML_URL": devnet_url, "DECENTRALML_SURI": creator.mnemonic,
           "DECENTRALML_LOCAL_STORE": str(tmp_path / "store")}
    created = subprocess.run(
        [SCRIPTS / "create_task", "--json", "--bundle", make_bundle(tmp_path), "--question",
         "from the console script", "--pays-amount", "2DML", "--max-assignments", "1",
         "--storage", "local"], env=env, capture_output=True, text=True, timeout=120)
    assert created.returncode == 0, created.stderr
    task_id = json.loads(created.stdout)["task_id"]
    listed = subprocess.run([SCRIPTS / "decentralml", "--json", "list_tasks", "--mine"],
                            env=env, capture_output=True, text=True, timeout=120)
    assert listed.returncode == 0, listed.stderr
    assert [t["task_id"] for t in json.loads(listed.stdout)] == [task_id]
    missing = subprocess.run([sys.executable, "-m", "substrate_client", "show_task", "4000000"],
                             env=env, capture_output=True, text=True, timeout=120)
    assert missing.returncode == 1
    assert missing.stderr.startswith("error: TaskNotFound")


# --------------------------------------------------------------------------- validating and federating


HOOK = '''
from substrate_client.validation import ACCEPT, PENDING, REJECT, Decision


def by_samples(model, submission):
    if submission.metadata.get("boom"):
        raise RuntimeError("the hook broke")
    if submission.metadata.get("later"):
        return Decision(submission.submission_id, PENDING, "to look at by hand")
    verdict = ACCEPT if submission.metadata["samples"] >= 100 else REJECT
    return Decision(submission.submission_id, verdict,
                    f"{submission.metadata['samples']} samples, accuracy {submission.metrics['accuracy']:.2f}")
'''


def test_validating_with_a_hook_decides_in_one_batch_and_a_broken_hook_rejects_the_result(
        dml, account, tmp_path, saved_model):
    creator = account()
    key = tmp_path / "result_key"
    ok(dml("keys", "generate", "--path", key))
    task_id = create(dml, creator, make_bundle(tmp_path), "--result-key", key.with_suffix(".pub"),
                     "--validation-strategy", "custom-accept", slots=4)["task_id"]
    subs = {}
    for name, metadata in (("good", {"samples": 500}), ("small", {"samples": 5}),
                           ("boom", {"samples": 500, "boom": True}),
                           ("later", {"samples": 500, "later": True})):
        who = account()
        sub = as_json(dml("--json", "assign_task", task_id, "--dest", tmp_path / f"t_{name}",
                          signer=who))["submission_id"]
        result = model_result(saved_model, tmp_path / "results" / name, **metadata)
        ok(dml("send_task_result", "--submission-id", sub, "--result-path", result, signer=who))
        subs[name] = sub

    hook = tmp_path / "hook.py"
    hook.write_text(HOOK)
    # Sealed: without the right private key nothing is downloaded.
    wrong = tmp_path / "other_key"
    ok(dml("keys", "generate", "--path", wrong))
    refused = dml("validate_task_results", task_id, "--hook", f"{hook}:by_samples",
                  "--result-key-file", wrong, "--results-dir", tmp_path / "wrong", signer=creator)
    assert refused.exit_code == 2 and "does not open" in one_error_line(refused)
    assert not (tmp_path / "wrong").exists()
    # The bundle's model/ is not a SavedModel: the creator gives her own model as --template.
    report = as_json(dml("--json", "validate_task_results", task_id, "--hook", f"{hook}:by_samples",
                         "--result-key-file", key, "--creator-dir", CREATOR_DIR,
                         "--template", saved_model, signer=creator))
    rows = {r["submission_id"]: r for r in report["results"]}
    assert report["submitted"] is True
    assert rows[subs["good"]]["verdict"] == "accept"
    assert rows[subs["small"]]["verdict"] == "reject" and "5 samples" in rows[subs["small"]]["reason"]
    assert rows[subs["boom"]]["verdict"] == "reject" and "the hook broke" in rows[subs["boom"]]["reason"]
    assert rows[subs["later"]]["verdict"] == "pending"
    # Every result holds the same untrained weights: the creator's evaluation of each, on
    # her 1000 held-out samples, is the same chance-level accuracy the hook was given.
    accuracy = rows[subs["good"]]["metrics"]["accuracy"]
    assert accuracy < 0.3 and rows[subs["small"]]["metrics"]["accuracy"] == accuracy
    assert rows[subs["good"]]["reason"] == f"500 samples, accuracy {accuracy:.2f}"
    assert rows[subs["good"]]["metrics"]["samples"] == 1000

    states = {s["submission_id"]: s["status"] for s in as_json(dml("list_task_results", task_id, "--json"))}
    assert states == {subs["good"]: "Accepted", subs["small"]: "Rejected", subs["boom"]: "Rejected",
                      subs["later"]: "Pending"}

    # By hand, as a table: the result the hook left pending is accepted by its id (a
    # CustomAccept task is never decided at a prompt).
    table = ok(dml("validate_task_results", task_id, "--accept", subs["later"], "--result-key-file", key,
                   "--no-evaluate", "--template", saved_model, signer=creator))
    assert "accept" in table.stdout and str(subs["later"]) in table.stdout
    states = {s["submission_id"]: s["status"] for s in as_json(dml("list_task_results", task_id, "--json"))}
    assert states[subs["later"]] == "Accepted"

    out = tmp_path / "federated"
    federated = as_json(dml("--json", "federate", "--task-id", task_id, "--out", out, "--template",
                            saved_model, "--result-key-file", key, "--policy", "average"))
    assert len(federated["sources"]) == 2 and (out / "saved_model.pb").is_file()


def test_validating_by_ids_rejects_unknown_ids_before_downloading(dml, account, tmp_path):
    creator, bob = account(), account()
    task_id = create(dml, creator, make_bundle(tmp_path), slots=1)["task_id"]
    sub = as_json(dml("--json", "assign_task", task_id, "--dest", tmp_path / "t", signer=bob))
    ok(dml("send_task_result", "--submission-id", sub["submission_id"], "--result", "text only",
           signer=bob))
    result = dml("validate_task_results", task_id, "--accept", 4_000_000, "--no-evaluate",
                 signer=creator)
    assert result.exit_code == 2 and "4000000" in one_error_line(result)
    report = as_json(dml("validate_task_results", task_id, "--reject", sub["submission_id"],
                         "--reason", "no model sent", "--no-evaluate", "--json", signer=creator))
    assert [r["verdict"] for r in report["results"]] == ["reject"]
    [state] = as_json(dml("list_task_results", task_id, "--json"))
    assert state["status"] == "Rejected" and state["rejection_reason"] == "no model sent"


def test_settings_for_several_storage_services_can_be_given_together(dml, account, tmp_path):
    result = dml("--ipfs-api", "http://127.0.0.1:5001", "create_task", "--bundle",
                 make_bundle(tmp_path), "--question", "q", "--pays-amount", "1DML",
                 "--max-assignments", 1, "--storage", "local", signer=account())
    ok(result)
