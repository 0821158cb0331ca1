"""What the command line takes in and prints out, when the other side is hostile.

Numbers are ASCII digits within the chain's types and bounds (a usage error naming the
flag otherwise); text read from the chain reaches the terminal with its control
characters escaped; a secret file others can read is refused with the fix to run.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from substrate_client.cli.amounts import parse_amount
from substrate_client.cli.output import safe_text
from substrate_client.cli.params import AmountType, WholeNumber, check_at_most
from substrate_client.errors import ConfigError, UserInputError
from substrate_client.keys import generate_keypair, load_private_key, read_private_file
from tests.fixtures import as_json, make_bundle, ok

# No signer, chain or storage settings leak in from the developer's shell or config.
pytestmark = pytest.mark.usefixtures("clean_settings")

#: An OSC 52 sequence: "put 'rm -rf ~' in the clipboard", then BEL.
OSC52 = "\x1b]52;c;cm0gLXJmIH4=\x07"


# --------------------------------------------------------------------------- numbers


@pytest.mark.parametrize("text", ["٥DML", "٥", "５", "5\u00a0DML", "1٥00", "²", "0.٥DML"])
def test_an_amount_in_non_ascii_digits_is_refused(text):
    with pytest.raises(UserInputError, match="not an amount"):
        parse_amount(text)


def test_an_amount_beyond_the_chains_balance_type_is_refused():
    assert parse_amount(str(2**128 - 1)) == 2**128 - 1
    with pytest.raises(UserInputError, match="more than the chain can hold"):
        parse_amount(str(2**128))
    with pytest.raises(UserInputError, match="not an amount"):
        parse_amount("9" * 5000)  # refused by its length, before any conversion


def test_amounts_in_dml_are_exact_to_the_planck_however_long():
    assert parse_amount("123456789012345678901234567.123456789012DML") == \
        123456789012345678901234567123456789012


def _counts_command():
    """A command taking a count the way ``create_task`` takes --max-assignments, and a
    bound read from the chain the way it checks it before uploading."""

    @click.command()
    @click.option("--max-assignments", type=WholeNumber(min=1), required=True)
    @click.option("--pays-amount", type=AmountType(), default="1")
    @click.option("--chain-max", type=int, default=100)
    def counts(max_assignments: int, pays_amount: int, chain_max: int) -> None:
        check_at_most(max_assignments, chain_max, "--max-assignments", "MaxAssignments")
        click.echo(f"ok {max_assignments}")

    return counts


@pytest.mark.parametrize("value, why", [
    ("٥", "not a whole number"),
    ("５", "not a whole number"),
    ("-3", "not a whole number"),
    ("0", "less than 1"),
    ("5000000000", "more than 4294967295"),
    ("9" * 500, "not a whole number"),
])
def test_a_count_in_other_digits_or_beyond_the_chains_type_is_a_usage_error_naming_the_flag(value, why):
    result = CliRunner().invoke(_counts_command(), ["--max-assignments", value])

    assert result.exit_code == 2, result.output
    assert "--max-assignments" in result.output and why in result.output
    assert "ok" not in result.output


def test_a_count_beyond_the_bound_the_chain_sets_is_a_usage_error_naming_the_flag(substrate):
    bound = int(substrate.get_constant("DecentralML", "MaxAssignments").value)

    over = CliRunner().invoke(_counts_command(), ["--max-assignments", str(bound + 1), "--chain-max", str(bound)])
    at = CliRunner().invoke(_counts_command(), ["--max-assignments", str(bound), "--chain-max", str(bound)])

    assert over.exit_code == 2, over.output
    assert "--max-assignments" in over.output and f"MaxAssignments = {bound}" in over.output
    assert at.exit_code == 0 and f"ok {bound}" in at.output


def test_a_pays_amount_in_other_digits_is_a_usage_error_naming_the_flag():
    result = CliRunner().invoke(_counts_command(), ["--max-assignments", "1", "--pays-amount", "٥DML"])
    assert result.exit_code == 2 and "--pays-amount" in result.output


# --------------------------------------------------------------------------- chain text


def test_safe_text_escapes_every_control_character_and_keeps_the_rest():
    assert safe_text(f"Train{OSC52} the MLP") == "Train\\x1b]52;c;cm0gLXJmIH4=\\x07 the MLP"
    assert safe_text("a\u202egnp.exe\u2028b\x9bc\x7f") == "a\\u202egnp.exe\\u2028b\\x9bc\\x7f"
    assert safe_text("two\nlines\ttab") == "two\\x0alines\\x09tab"
    assert safe_text("two\nlines\x1b", keep_newlines=True) == "two\nlines\\x1b"
    assert safe_text("naïve 模型 ✓") == "naïve 模型 ✓"
    assert safe_text(None) == ""


def test_a_question_with_terminal_escapes_is_shown_escaped_by_every_printer(dml, account, tmp_path):
    creator = account()
    question = f"Train the MLP{OSC52}\x1b[2J\u202e"
    task = as_json(dml("--json", "create_task", "--bundle", make_bundle(tmp_path), "--question", question,
                       "--pays-amount", "1DML", "--max-assignments", 1, "--storage", "local",
                       signer=creator))
    assert task["question"] == question  # the chain holds it as it was sent

    shown = ok(dml("show_task", task["task_id"]))
    listed = ok(dml("list_tasks", "--creator", creator.ss58_address))
    as_json_text = ok(dml("--json", "show_task", task["task_id"])).stdout

    for output in (shown.stdout, shown.stderr, listed.stdout, as_json_text):
        assert not any(c in output for c in "\x1b\x07\u202e"), repr(output)
    assert "Train the MLP\\x1b]52;c;cm0gLXJmIH4=\\x07\\x1b[2J\\u202e" in shown.stdout
    assert "Train the MLP\\x1b]52" in listed.stdout


# --------------------------------------------------------------------------- secret files


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660, 0o606, 0o610])
def test_a_secret_file_open_to_other_users_is_refused_with_the_fix(tmp_path, mode):
    path = tmp_path / "signer.key"
    path.write_text("//Alice\n")
    path.chmod(mode)

    with pytest.raises(ConfigError) as error:
        read_private_file(path, "the signer key file")

    message = str(error.value)
    assert f"chmod 600 {path}" in message and f"{mode:04o}" in message
    assert "Alice" not in message


@pytest.mark.parametrize("mode", [0o600, 0o400])
def test_a_secret_file_only_its_owner_can_read_is_read(tmp_path, mode):
    path = tmp_path / "signer.key"
    path.write_text("//Alice\n")
    path.chmod(mode)
    assert read_private_file(path) == "//Alice\n"


def test_a_result_key_file_open_to_other_users_is_refused_not_just_warned_about(tmp_path):
    path = tmp_path / "result_key"
    generate_keypair(path)
    assert len(load_private_key(path)) == 32
    path.chmod(0o644)

    with pytest.raises(ConfigError, match=f"chmod 600 {path}"):
        load_private_key(path)


def test_a_secret_file_that_is_not_a_small_regular_file_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        read_private_file(tmp_path / "missing")
    (tmp_path / "dir").mkdir(mode=0o700)
    with pytest.raises(ConfigError, match="not a regular file"):
        read_private_file(tmp_path / "dir")
    big = tmp_path / "big"
    big.write_bytes(b"x" * (64 * 1024 + 1))
    big.chmod(0o600)
    with pytest.raises(ConfigError, match="larger than a key file"):
        read_private_file(big)


def test_ids_are_ascii_whole_numbers_up_to_a_u64():
    from substrate_client.cli.params import COUNT, ID, U64_MAX

    assert ID.convert(str(U64_MAX), None, None) == U64_MAX and ID.convert("0", None, None) == 0
    for bad in (str(U64_MAX + 1), "٣", "1.0", ""):
        with pytest.raises(click.BadParameter):
            ID.convert(bad, None, None)
    with pytest.raises(click.BadParameter, match="less than 1"):
        COUNT.convert("0", None, None)


def test_the_cli_refuses_a_signer_key_file_others_can_read(tmp_path, devnet_url):
    from click.testing import CliRunner

    from substrate_client.cli import cli

    path = tmp_path / "signer.key"
    path.write_text("//Alice\n")
    path.chmod(0o644)
    result = CliRunner().invoke(cli, ["--url", devnet_url, "--key-file", str(path), "balance"])
    assert result.exit_code == 2
    assert f"chmod 600 {path}" in result.output and "Alice" not in result.output
    path.chmod(0o600)
    result = CliRunner().invoke(cli, ["--url", devnet_url, "--key-file", str(path), "balance"])
    assert result.exit_code == 0, result.output
