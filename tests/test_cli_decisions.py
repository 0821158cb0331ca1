"""Deciding on results through the command line, as the creator's walk-through says:
``validate_task_results`` decides by the task's strategy (a person at the prompts for
ManualAccept, nobody for AutoAccept, which the chain pays on arrival), ``--dry-run``
submits nothing, decisions go on-chain in one atomic batch (a batch holding a result
decided meanwhile changes nothing, and says why), and ``close_task`` refuses while
results are pending unless ``--pay-pending``."""

from __future__ import annotations

from pathlib import Path

from tests.chain_fixtures import UNIT
from tests.fixtures import (as_json, balances, create_task, make_bundle, make_result,
                            model_result, ok, one_error_line, send_result, take_slot)

REWARD = UNIT  # "1DML"
CREATOR_DIR = Path(__file__).resolve().parent.parent / "assets" / "model_creator"


def statuses(dml, task_id: int) -> dict[int, str]:
    return {s["submission_id"]: s["status"] for s in as_json(dml("list_task_results", task_id, "--json"))}


def models_sent(dml, account, creator, tmp_path: Path, saved_model: Path, count: int, *,
                strategy: str) -> tuple[int, list[int], list]:
    """A task of ``count`` slots at 1 DML and the given strategy, each slot's result (the
    creator's own untrained model) sent by its own contributor."""
    task_id = create_task(dml, creator, make_bundle(tmp_path, model_bytes=1000), storage="local",
                          pays="1DML", slots=count, strategy=strategy)["task_id"]
    subs, who = [], []
    for n in range(count):
        contributor = account()
        sub = take_slot(dml, contributor, task_id, tmp_path / f"task_{n}")
        send_result(dml, contributor, sub, model_result(saved_model, tmp_path / "results" / str(n),
                                                        samples=100 + n))
        subs.append(sub)
        who.append(contributor)
    return task_id, subs, who


# --------------------------------------------------------------------------- one atomic batch

RIVAL_HOOK = '''
import os

from substrateinterface import Keypair, SubstrateInterface

from substrate_client.validation import ACCEPT, Decision

decided = []


def accept_after_a_rival_decided(model, submission):
    """Accepts every result; while judging the first, the creator's other client accepts
    the second on chain (as a second terminal would)."""
    rival = int(os.environ["RIVAL_SUBMISSION"])
    if not decided and submission.submission_id != rival:
        chain = SubstrateInterface(url=os.environ["DECENTRALML_URL"], ss58_format=42)
        signer = Keypair.create_from_mnemonic(os.environ["DECENTRALML_SURI"], ss58_format=42)
        call = chain.compose_call("DecentralML", "accept_task_result", {"submission_id": rival})
        receipt = chain.submit_extrinsic(chain.create_signed_extrinsic(call=call, keypair=signer),
                                         wait_for_inclusion=True)
        assert receipt.is_success, receipt.error_message
        chain.close()
        decided.append(rival)
    return Decision(submission.submission_id, ACCEPT, "good enough")
'''


def test_a_batch_holding_a_result_decided_meanwhile_changes_nothing_and_says_why(
        dml, account, substrate, tmp_path, saved_model):
    creator = account()
    task_id, (first, rival), (first_c, rival_c) = models_sent(
        dml, account, creator, tmp_path, saved_model, 2, strategy="CustomAccept")
    hook = tmp_path / "rival_hook.py"
    hook.write_text(RIVAL_HOOK)
    escrow = as_json(dml("show_task", task_id, "--json"))["escrow"]
    before = balances(substrate, first_c, rival_c)

    result = dml("validate_task_results", task_id, "--hook", f"{hook}:accept_after_a_rival_decided",
                 "--template", saved_model, "--no-evaluate", signer=creator,
                 env={"RIVAL_SUBMISSION": str(rival)})

    assert result.exit_code == 1, result.output
    line = one_error_line(result)
    # The pallet's error, by name, with its explanation: the rival is no longer pending.
    assert "pending" in line.lower(), line
    # The batch changed nothing: the first result is still pending and unpaid; the rival
    # was accepted (by the other client) and paid once.
    assert statuses(dml, task_id) == {first: "Pending", rival: "Accepted"}
    after = balances(substrate, first_c, rival_c)
    assert after[0] == before[0]
    assert after[1] == (before[1][0] + REWARD, before[1][1])
    assert as_json(dml("show_task", task_id, "--json"))["escrow"] == escrow - REWARD

    # Validating again decides what is left.
    report = as_json(dml("--json", "validate_task_results", task_id, "--accept", first,
                         "--template", saved_model, "--no-evaluate", signer=creator))
    assert report["submitted"] is True and [r["verdict"] for r in report["results"]] == ["accept"]
    assert statuses(dml, task_id) == {first: "Accepted", rival: "Accepted"}
    assert balances(substrate, first_c)[0][0] == before[0][0] + REWARD


# --------------------------------------------------------------------------- by strategy


def test_a_manual_accept_task_asks_the_creator_about_each_result(
        dml, account, substrate, tmp_path, saved_model):
    creator = account()
    task_id, subs, who = models_sent(dml, account, creator, tmp_path, saved_model, 3,
                                     strategy="ManualAccept")
    before = balances(substrate, *who)

    # An answer it does not know is asked again; then accept, reject, skip.
    result = ok(dml("validate_task_results", task_id, "--reason", "blurry digits", "--template",
                    saved_model, "--creator-dir", CREATOR_DIR, signer=creator,
                    input="maybe\na\nr\ns\n"))

    for sub in subs:
        assert f"Submission {sub} from " in result.stderr
    assert "Accept, reject or skip? [a/r/s]" in result.stderr
    assert "Please answer a (accept), r (reject) or s (skip), not 'maybe'" in result.stderr
    assert "accuracy=" in result.stderr  # each result is shown with the creator's evaluation
    assert "submitted 2 decision(s) in block" in result.stdout
    assert "1 result(s) left pending" in result.stderr
    states = {s["submission_id"]: s for s in as_json(dml("list_task_results", task_id, "--json"))}
    assert [states[s]["status"] for s in subs] == ["Accepted", "Rejected", "Pending"]
    assert states[subs[1]]["rejection_reason"] == "blurry digits"
    after = balances(substrate, *who)
    assert after[0][0] == before[0][0] + REWARD  # the accepted one is paid
    assert after[1][0] == before[1][0] and after[2][0] == before[2][0]

    # The skipped result is asked about again next time.
    again = ok(dml("validate_task_results", task_id, "--template", saved_model, "--no-evaluate",
                   signer=creator, input="a\n"))
    assert f"Submission {subs[2]} from " in again.stderr
    assert f"Submission {subs[0]} from " not in again.stderr
    assert statuses(dml, task_id)[subs[2]] == "Accepted"


def test_an_auto_accept_task_pays_each_result_on_arrival_and_leaves_nothing_to_validate(
        dml, account, substrate, tmp_path):
    creator, bob = account(), account()
    task_id = create_task(dml, creator, make_bundle(tmp_path, model_bytes=1000), storage="local",
                          pays="1DML", slots=1, strategy="AutoAccept")["task_id"]
    sub = take_slot(dml, bob, task_id, tmp_path / "task")
    [before] = balances(substrate, bob)

    sent = send_result(dml, bob, sub, make_result(tmp_path, "bob"))

    assert sent["status"] == "Accepted"
    # Paid the reward, less the fees of committing and revealing (far below a tenth of it).
    [after] = balances(substrate, bob)
    assert REWARD - UNIT // 10 < sum(after) - sum(before) < REWARD
    report = as_json(dml("--json", "validate_task_results", task_id, "--no-evaluate", signer=creator))
    assert report == {"task_id": task_id, "submitted": False, "block": None, "results": []}
    closed = as_json(dml("--json", "close_task", task_id, signer=creator))
    assert (closed["paid_on_close"], closed["refunded"]) == (0, 0)


def test_a_dry_run_decides_but_submits_nothing(dml, account, substrate, tmp_path, saved_model):
    creator = account()
    task_id, (good, bad), who = models_sent(dml, account, creator, tmp_path, saved_model, 2,
                                            strategy="ManualAccept")
    before = balances(substrate, creator, *who)

    report = as_json(dml("--json", "validate_task_results", task_id, "--accept", good, "--reject",
                         bad, "--reason", "too few samples", "--template", saved_model,
                         "--no-evaluate", "--dry-run", signer=creator))
    human = ok(dml("validate_task_results", task_id, "--accept", good, "--reject", bad,
                   "--template", saved_model, "--no-evaluate", "--dry-run", signer=creator))

    assert report["submitted"] is False and report["block"] is None
    verdicts = {r["submission_id"]: (r["verdict"], r["reason"]) for r in report["results"]}
    assert verdicts == {good: ("accept", "accepted by id"), bad: ("reject", "too few samples")}
    assert "dry run: 2 decision(s) not submitted" in human.stdout
    assert statuses(dml, task_id) == {good: "Pending", bad: "Pending"}
    assert balances(substrate, creator, *who) == before  # not even a fee was paid


# --------------------------------------------------------------------------- closing


def test_closing_with_results_pending_is_refused_unless_the_creator_pays_them(
        dml, account, substrate, tmp_path):
    creator, bob = account(), account()
    task_id = create_task(dml, creator, make_bundle(tmp_path, model_bytes=1000), storage="local",
                          pays="1DML", slots=2)["task_id"]
    sub = take_slot(dml, bob, task_id, tmp_path / "task")
    send_result(dml, bob, sub, make_result(tmp_path, "bob"))
    before = balances(substrate, creator, bob)

    refused = dml("close_task", task_id, signer=creator)

    assert refused.exit_code == 2
    line = one_error_line(refused)
    assert f"1 pending result(s) (submission(s) {sub})" in line
    assert "would pay them 1 DML unvalidated" in line and "--pay-pending" in line
    assert as_json(dml("show_task", task_id, "--json"))["status"] == "Open"
    assert balances(substrate, creator, bob) == before

    closed = as_json(dml("--json", "close_task", task_id, "--pay-pending", signer=creator))

    assert (closed["paid_on_close"], closed["refunded"]) == (REWARD, REWARD)  # the free slot's
    assert as_json(dml("show_task", task_id, "--json"))["status"] == "Closed"
    assert statuses(dml, task_id) == {sub: "Accepted"}
    (creator_free, creator_reserved), (bob_free, bob_reserved) = balances(substrate, creator, bob)
    assert bob_free == before[1][0] + REWARD
    # Both rewards left the creator's hold: one paid to Bob, one back to her (less the fee).
    assert creator_reserved == before[0][1] - 2 * REWARD
    assert before[0][0] + REWARD - UNIT // 10 < creator_free < before[0][0] + REWARD


def test_the_walk_through_s_hook_rejects_an_untrained_model_saying_its_accuracy(
        dml, account, tmp_path, saved_model):
    creator = account()
    task_id, [sub], _ = models_sent(dml, account, creator, tmp_path, saved_model, 1,
                                    strategy="CustomAccept")

    report = as_json(dml("--json", "validate_task_results", task_id, "--hook",
                         CREATOR_DIR / "hooks.py:accuracy_threshold", "--template", saved_model,
                         "--creator-dir", CREATOR_DIR, signer=creator))

    [row] = report["results"]
    assert report["submitted"] is True and row["verdict"] == "reject"
    assert row["reason"].startswith(f"held-out accuracy {row['metrics']['accuracy']:.4f} < threshold")
    [state] = as_json(dml("list_task_results", task_id, "--json"))
    assert state["status"] == "Rejected" and state["rejection_reason"] == row["reason"]


def test_a_custom_accept_task_is_judged_by_a_hook_never_by_a_prompt(
        dml, account, substrate, tmp_path, saved_model):
    creator = account()
    task_id, subs, who = models_sent(dml, account, creator, tmp_path, saved_model, 1,
                                     strategy="CustomAccept")
    before = balances(substrate, creator, *who)

    refused = dml("validate_task_results", task_id, "--no-evaluate", signer=creator, input="a\n")

    assert refused.exit_code == 2
    assert "CustomAccept" in one_error_line(refused) and "--hook" in one_error_line(refused)
    assert statuses(dml, task_id) == {subs[0]: "Pending"}
    assert balances(substrate, creator, *who) == before
