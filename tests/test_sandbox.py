"""A task's bundle is code from a stranger: ``assign_task --run`` runs it in the sandbox
(bubblewrap), and a hostile ``start_task.sh`` finds no secret of the contributor's, no way
out of its folder and no network. Against the real dev chain and a real bwrap."""

from __future__ import annotations

import json
import os
import socket
import textwrap
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner
from substrateinterface import Keypair

from substrate_client.cli import cli
from tests.chain_fixtures import UNIT, fresh_account

FAKE_SURI = "bottom drive obey lake curtain smoke basket hold race lonely fit walk"
FAKE_AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY-contributor"
FAKE_AWS_FILE_SECRET = "aws-file-secret-9f2c1b7e"
FAKE_CONFIG_SECRET = "config-file-secret-4e8d2a61"


def invoke(args, env=None):
    return CliRunner().invoke(cli, [str(a) for a in args], env=env, prog_name="decentralml")


def ok(result):
    assert result.exit_code == 0, f"exit {result.exit_code}\n{result.output}\n{result.stderr}"
    return result


class Listener:
    """A TCP server on the host's 127.0.0.1 that counts the connections it accepts."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self):
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.accepted += 1
            conn.close()

    def close(self):
        self._stop.set()
        self._thread.join()
        self.sock.close()


@pytest.fixture(scope="module")
def hostile_run(devnet_url, substrate, dev_keys, tmp_path_factory):  # noqa: F811
    """A creator posts a bundle whose start_task.sh tries to steal the contributor's
    secrets, write outside its folder and reach the host's network; a contributor
    runs it with ``assign_task --run``, holding a signer, a key file and AWS secrets."""
    root = tmp_path_factory.mktemp("hostile")
    creator = fresh_account(substrate, dev_keys["alice"], 1000 * UNIT)
    bob = fresh_account(substrate, dev_keys["alice"], 1000 * UNIT)
    home = root / "home"
    (home / ".aws").mkdir(parents=True)
    (home / ".aws" / "credentials").write_text(
        f"[default]\naws_secret_access_key = {FAKE_AWS_FILE_SECRET}\n")
    (home / ".config" / "decentralml").mkdir(parents=True)
    config = home / ".config" / "decentralml" / "config.toml"
    config.write_text(f'url = "{devnet_url}"\n# {FAKE_CONFIG_SECRET}\n')
    key_file = root / "keys" / "bob.key"
    key_file.parent.mkdir()
    key_file.write_text(bob.mnemonic + "\n")
    key_file.chmod(0o600)
    outside = root / "outside"
    outside.mkdir()
    listener = Listener()

    script = textwrap.dedent(f"""\
        #!/usr/bin/env bash
        # What a hostile bundle tries; everything it finds goes to loot/ in its own folder.
        mkdir -p loot
        env > loot/env.txt
        for f in "$DECENTRALML_KEY_FILE" "{key_file}" "{home}/.aws/credentials" "{config}" \\
                 "$HOME/.aws/credentials" "$HOME/.config/decentralml/config.toml" \\
                 ~/.config/decentralml/config.toml; do
          [ -n "$f" ] && cat "$f" >> loot/files.txt 2>/dev/null
        done
        for p in /proc/[0-9]*; do
          tr '\\0' '\\n' < "$p/environ" >> loot/proc.txt 2>/dev/null
          tr '\\0' ' ' < "$p/cmdline" >> loot/proc.txt 2>/dev/null
        done
        grep -rsh . "{home}" "{key_file.parent}" >> loot/files.txt 2>/dev/null
        echo pwned > "{outside}/written.txt" 2>/dev/null
        echo pwned > "{home}/written.txt" 2>/dev/null
        echo pwned > "$HOME/../written.txt" 2>/dev/null
        if (exec 3<>/dev/tcp/127.0.0.1/{listener.port}) 2>/dev/null; then
          echo connected > loot/net.txt
        else
          echo refused > loot/net.txt
        fi
        exit 0
        """)
    bundle = root / "bundle"
    (bundle / "model").mkdir(parents=True)
    (bundle / "model" / "weights.bin").write_bytes(os.urandom(1000))
    (bundle / "start_task.sh").write_text(script)
    (bundle / "start_task.sh").chmod(0o755)

    store = root / "store"
    base_env = {"DECENTRALML_URL": devnet_url, "DECENTRALML_LOCAL_STORE": str(store),
                "DECENTRALML_CONFIG": str(config), "HOME": str(home)}
    created = ok(invoke(["--json", "create_task", "--bundle", bundle, "--question", "Steal",
                         "--pays-amount", "1DML", "--max-assignments", 1, "--storage", "local"],
                        env={**base_env, "DECENTRALML_SURI": creator.mnemonic}))
    task_id = json.loads(created.stdout)["task_id"]
    dest = root / "task"
    env = {**base_env, "DECENTRALML_SURI": FAKE_SURI, "AWS_ACCESS_KEY_ID": "AKIAFAKECONTRIBUTOR",
           "AWS_SECRET_ACCESS_KEY": FAKE_AWS_SECRET}
    try:
        result = invoke(["--key-file", key_file, "assign_task", task_id, "--dest", dest, "--run"],
                        env=env)
    finally:
        listener.close()
    loot = {}
    for name in ("env", "files", "proc", "net"):
        path = dest / "loot" / f"{name}.txt"
        loot[name] = path.read_text(errors="replace") if path.exists() else ""
    return {"result": result, "loot": loot, "bob": bob, "listener": listener, "home": home,
            "outside": outside, "key_file": key_file, "dest": dest}


SECRETS = {
    "the signer's mnemonic in DECENTRALML_SURI": FAKE_SURI,
    "the key file's mnemonic": None,  # bob's, filled in below
    "AWS_SECRET_ACCESS_KEY": FAKE_AWS_SECRET,
    "~/.aws/credentials": FAKE_AWS_FILE_SECRET,
    "~/.config/decentralml/config.toml": FAKE_CONFIG_SECRET,
}


def _secrets(run) -> dict[str, str]:
    return {**SECRETS, "the key file's mnemonic": run["bob"].mnemonic}


def test_the_hostile_bundle_ran(hostile_run):
    # It ran to the end: it wrote what it found and tried the network.
    assert hostile_run["loot"]["net"].strip() in ("connected", "refused"), hostile_run["result"].output


def test_a_bundle_finds_no_signer_or_storage_secret_in_its_environment(hostile_run):
    env_text = hostile_run["loot"]["env"]
    for what, secret in _secrets(hostile_run).items():
        assert secret not in env_text, f"the bundle read {what} from its environment"
    names = {line.split("=", 1)[0] for line in env_text.splitlines() if "=" in line}
    assert not names & {"DECENTRALML_SURI", "DECENTRALML_KEY_FILE", "AWS_SECRET_ACCESS_KEY",
                        "AWS_ACCESS_KEY_ID", "DECENTRALML_CONFIG", "DECENTRALML_URL"}


def test_a_bundle_cannot_read_the_key_file_the_config_or_aws_files(hostile_run):
    files_text = hostile_run["loot"]["files"]
    for what, secret in _secrets(hostile_run).items():
        assert secret not in files_text, f"the bundle read {what} from a file"


def test_a_bundle_cannot_read_the_clients_environment_through_proc(hostile_run):
    proc_text = hostile_run["loot"]["proc"]
    for what, secret in _secrets(hostile_run).items():
        assert secret not in proc_text, f"the bundle read {what} through /proc"


def test_a_bundle_cannot_write_outside_its_folder(hostile_run):
    assert not (hostile_run["outside"] / "written.txt").exists()
    assert not (hostile_run["home"] / "written.txt").exists()
    assert not (hostile_run["dest"].parent / "written.txt").exists()


def test_a_bundle_cannot_connect_to_a_port_on_the_hosts_loopback(hostile_run):
    assert hostile_run["loot"]["net"].strip() == "refused"
    assert hostile_run["listener"].accepted == 0
