"""What the chain and CLI tests build on: run the command line, a bundle, a task, a raw
extrinsic, a port. Each helper takes what it makes as explicit parameters, so a test
shows the task it creates; the pytest fixtures (``dml``, ``account``, ``store``,
``clean_settings``, ``saved_model``) are registered in conftest.py for every test module.

    def test_x(dml, account, tmp_path):
        creator = account()
        task = create_task(dml, creator, make_bundle(tmp_path), storage="local",
                           pays="1DML", slots=1)
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
from pathlib import Path
from typing import Iterator

import pytest
from click.testing import CliRunner
from substrateinterface import Keypair, SubstrateInterface

from substrate_client import tensorflow_setup
from substrate_client.cli import cli
from tests.chain_fixtures import UNIT, fresh_account, submit_raw  # noqa: F401 (shared here)

#: Settings a developer's shell or config file could leak into a test.
SETTINGS_ENV = ["DECENTRALML_SURI", "DECENTRALML_URL", "DECENTRALML_KEY_FILE",
                "DECENTRALML_IPFS_API", "DECENTRALML_S3_ENDPOINT", "DECENTRALML_S3_BUCKET",
                "DECENTRALML_LOCAL_STORE", "DECENTRALML_CONFIG"]

#: A start_task.sh that trains nothing and leaves no result.
IDLE_SCRIPT = "#!/usr/bin/env bash\necho training\n"


# --------------------------------------------------------------------------- the command line


def invoke(args, env=None, input=None, command=cli, prog="decentralml"):
    """Run a command in-process (click's CliRunner): stdout and stderr kept apart."""
    return CliRunner().invoke(command, [str(a) for a in args], env=env, input=input,
                              prog_name=prog)


def ok(result):
    assert result.exit_code == 0, \
        f"exit {result.exit_code}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    return result


def as_json(result):
    return json.loads(ok(result).stdout)


def one_error_line(result) -> str:
    """The command's one ``error: ...`` line (and no traceback)."""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.output
    return lines[0]


@pytest.fixture
def clean_settings(monkeypatch, tmp_path):
    """No signer, chain or storage settings leak in from the developer's shell or config."""
    for name in SETTINGS_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DECENTRALML_CONFIG", str(tmp_path / "no-config.toml"))


@pytest.fixture
def store(tmp_path) -> Path:
    """The local store the ``dml`` fixture's commands use."""
    return tmp_path / "store"


@pytest.fixture
def dml(devnet_url, store, clean_settings):
    """``dml(*args, signer=None, input=None, env=None)`` runs the CLI against the dev chain
    and the local store ``store``, as ``signer`` (a Keypair) or as nobody."""

    def run(*args, signer=None, input=None, env=None):
        settings = {"DECENTRALML_URL": devnet_url, "DECENTRALML_LOCAL_STORE": str(store)}
        if signer is not None:
            settings["DECENTRALML_SURI"] = signer.mnemonic
        settings.update(env or {})
        return invoke(args, env=settings, input=input)

    return run


@pytest.fixture
def account(substrate, dev_keys):
    """``account()`` makes a fresh account funded with 1000 DML by Alice."""
    return lambda: fresh_account(substrate, dev_keys["alice"], 1000 * UNIT)


# --------------------------------------------------------------------------- bundles and tasks


def make_bundle(root: Path, script: str | None = IDLE_SCRIPT, *, name: str = "bundle",
                model_bytes: int | None = 300_000, task_settings: dict | None = None) -> Path:
    """A bundle folder ``root/name``: ``model/weights.bin`` of ``model_bytes`` random bytes
    (no model/ if None), ``start_task.sh`` holding ``script`` (none if None), and
    ``task_settings.json`` if given."""
    bundle = root / name
    bundle.mkdir(parents=True)
    if model_bytes is not None:
        (bundle / "model").mkdir()
        (bundle / "model" / "weights.bin").write_bytes(os.urandom(model_bytes))
    if script is not None:
        (bundle / "start_task.sh").write_text(script)
        (bundle / "start_task.sh").chmod(0o755)
    if task_settings is not None:
        (bundle / "task_settings.json").write_text(json.dumps(task_settings))
    return bundle


def make_result(root: Path, name: str, text: str | None = None) -> Path:
    """A result folder; each contributor's differs (the chain refuses a copy of another's)."""
    folder = root / name
    folder.mkdir(parents=True)
    (folder / "result.txt").write_text(text if text is not None else f"trained by {name}")
    return folder


@pytest.fixture(scope="session")
def saved_model(tmp_path_factory) -> Path:
    """The example task's model (untrained), saved once as a SavedModel folder: the
    creator's own model (``--template``), and what a result holds."""
    with pytest.MonkeyPatch.context() as env:
        for name, value in tensorflow_setup.ENVIRONMENT.items():  # for this import only
            env.setenv(name, value)
        from assets.model_creator import model_creator

        path = tmp_path_factory.mktemp("model") / "model"
        model_creator.create_model().save(str(path))
    return path


def model_result(template: Path, dest: Path, **metadata) -> Path:
    """A result folder: the SavedModel ``template`` with ``decentralml_result.json`` holding
    ``metadata`` (the contributor's word: samples, ...)."""
    shutil.copytree(template, dest)
    (dest / "decentralml_result.json").write_text(json.dumps(metadata))
    return dest


def files(folder: Path) -> dict[str, bytes]:
    """Every file below ``folder``, by relative path, with its bytes."""
    return {str(p.relative_to(folder)): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def create_task(dml, creator: Keypair, bundle: Path, *, storage: str, pays: str, slots: int,
                question: str = "Train the MLP", strategy: str | None = None,
                result_key: Path | None = None, extra: tuple = ()) -> dict:
    """``create_task`` through the CLI with exactly these settings; the new task as JSON."""
    args = ["--json", "create_task", "--bundle", bundle, "--question", question,
            "--pays-amount", pays, "--max-assignments", slots, "--storage", storage]
    if strategy is not None:
        args += ["--validation-strategy", strategy]
    if result_key is not None:
        args += ["--result-key", result_key]
    return as_json(dml(*args, *extra, signer=creator))


def take_slot(dml, contributor: Keypair, task_id: int, dest: Path) -> int:
    """``assign_task`` (fetch and take a slot, no run): the submission id."""
    return as_json(dml("--json", "assign_task", task_id, "--dest", dest,
                       signer=contributor))["submission_id"]


def send_result(dml, contributor: Keypair, submission_id: int, folder: Path | None,
                *, storage: str | None = None, text: str = "") -> dict:
    """``send_task_result`` of ``folder`` (and/or ``text``): the submission as JSON."""
    args = ["--json", "send_task_result", "--submission-id", submission_id]
    if folder is not None:
        args += ["--result-path", folder]
    if text:
        args += ["--result", text]
    if storage is not None:
        args += ["--storage", storage]
    return as_json(dml(*args, signer=contributor))


# --------------------------------------------------------------------------- the chain, directly


def balances(substrate: SubstrateInterface, *keypairs: Keypair) -> list[tuple[int, int]]:
    """(free, reserved) of each account, read from the chain."""
    out = []
    for keypair in keypairs:
        data = substrate.query("System", "Account", [keypair.ss58_address]).value["data"]
        out.append((data["free"], data["reserved"]))
    return out


def block_number(substrate: SubstrateInterface) -> int:
    return substrate.query("System", "Number").value


def jump_to(substrate: SubstrateInterface, height: int) -> None:
    """Build the next block at ``height`` (deadlines are block numbers)."""
    substrate.rpc_request("dev_newBlock", [{"unsafeBlockHeight": height}])
    assert block_number(substrate) == height


def pallet_constant(substrate: SubstrateInterface, name: str) -> int:
    return int(substrate.get_constant("DecentralML", name).value)


# --------------------------------------------------------------------------- ports


@contextlib.contextmanager
def closed_port() -> Iterator[int]:
    """A local port that refuses connections while the block runs: it is held bound
    (never listening), so no other process can take it meanwhile."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]
