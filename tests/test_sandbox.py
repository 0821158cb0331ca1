"""A task's bundle is code from a stranger: ``assign_task --run`` runs it in the sandbox
(bubblewrap), and a hostile ``start_task.sh`` finds no secret of the contributor's, no way
out of its folder and no network. Against the real dev chain and a real bwrap."""

from __future__ import annotations

import json
import os
import socket
import textwrap
import threading
import time
from pathlib import Path

import pytest

from tests.chain_fixtures import UNIT, fresh_account
from tests.fixtures import create_task, invoke, make_bundle, ok

FAKE_SURI = "bottom drive obey lake curtain smoke basket hold race lonely fit walk"
FAKE_AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY-contributor"
FAKE_AWS_FILE_SECRET = "aws-file-secret-9f2c1b7e"
FAKE_CONFIG_SECRET = "config-file-secret-4e8d2a61"


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
    bundle = make_bundle(root, script, model_bytes=1000)

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


# --------------------------------------------------------------------------- the sandbox itself


from substrate_client import sandbox  # noqa: E402
from substrate_client.errors import UserInputError  # noqa: E402
from substrate_client.sandbox import BundleError, Limits, SandboxSettings  # noqa: E402


def script_bundle(root: Path, body: str, task_settings: dict | None = None) -> Path:
    """A bundle of a start_task.sh running ``body`` in bash, and no model."""
    return make_bundle(root, "#!/usr/bin/env bash\n" + textwrap.dedent(body), model_bytes=None,
                       task_settings=task_settings)


def run(folder: Path, env=None, **settings):
    lines: list[str] = []
    result = sandbox.run_bundle(folder, env or {}, settings=SandboxSettings(**settings),
                                echo=lines.append)
    return result, "\n".join(lines)


def test_the_cpu_time_limit_stops_a_busy_bundle(tmp_path):
    folder = script_bundle(tmp_path, "while :; do :; done\n")
    result, _ = run(folder, limits=Limits(cpu_seconds=2, wall_seconds=120))
    assert not result.ok and result.exit_code > 128
    assert result.stopped_by and result.stopped_by.startswith("the CPU-time limit (2 s)")
    assert result.seconds < 60


def test_the_memory_limit_stops_a_bundle_that_allocates_too_much(tmp_path):
    folder = script_bundle(tmp_path, """\
        "$DECENTRALML_PYTHON" -c "b = bytearray(1 << 30); b[-1] = 1; print('allocated')"
        """)
    result, output = run(folder, limits=Limits(memory_bytes=512 * sandbox.MiB))
    assert result.exit_code != 0 and "MemoryError" in output and "allocated" not in output
    # The limit, nothing else, stopped it: with room the same bundle allocates.
    (folder / "output").rmdir()
    result, output = run(folder, limits=Limits(memory_bytes=4 * sandbox.GiB))
    assert result.ok and "allocated" in output


def test_the_wall_clock_limit_stops_a_bundle_that_hangs(tmp_path):
    folder = script_bundle(tmp_path, "sleep 600\n")
    result, _ = run(folder, limits=Limits(wall_seconds=2))
    assert result.stopped_by == "the wall-clock limit (2 s)"
    assert result.seconds < 30


def test_the_file_size_limit_stops_a_bundle_filling_the_disk(tmp_path):
    folder = script_bundle(tmp_path, "head -c 3000000 /dev/zero > big\nexit $?\n")
    result, _ = run(folder, limits=Limits(file_bytes=1_000_000))
    assert result.stopped_by == "the file-size limit (1000000 bytes)"
    assert (folder / "big").stat().st_size <= 1_000_000


@pytest.mark.parametrize("isolate", [True, False])
def test_a_cancelled_run_is_killed_with_what_it_started(tmp_path, isolate):
    folder = script_bundle(tmp_path, "(sleep 3; echo late > late.txt) &\nsleep 600\n")
    cancel = threading.Event()
    threading.Timer(1.0, cancel.set).start()
    result = sandbox.run_bundle(folder, {}, settings=SandboxSettings(isolate=isolate), cancel=cancel)
    assert result.stopped_by == sandbox.CANCELLED and not result.ok
    assert result.seconds < 30
    time.sleep(4)
    assert not (folder / "late.txt").exists()


def test_a_run_that_ends_before_a_cancel_is_not_marked_cancelled(tmp_path):
    folder = script_bundle(tmp_path, "exit 0\n")
    cancel = threading.Event()
    result = sandbox.run_bundle(folder, {}, settings=SandboxSettings(), cancel=cancel)
    cancel.set()
    assert result.ok and result.stopped_by is None


@pytest.mark.parametrize("isolate", [True, False])
def test_a_bundle_runs_at_a_lower_cpu_priority_than_the_client(tmp_path, isolate):
    folder = script_bundle(tmp_path, "echo niceness=$(nice)\n")
    result, output = run(folder, isolate=isolate)
    assert result.ok
    assert f"niceness={os.nice(0) + sandbox.DEFAULT_NICENESS}" in output
    (folder / "output").rmdir()
    result, output = run(folder, isolate=isolate, niceness=0)
    assert f"niceness={os.nice(0)}" in output


def test_a_niceness_outside_0_to_19_is_refused():
    for bad in (-1, 20):
        with pytest.raises(UserInputError, match="niceness"):
            SandboxSettings(niceness=bad)


def test_processes_a_bundle_leaves_behind_die_with_it(tmp_path):
    folder = script_bundle(tmp_path, "(sleep 2; echo late > late.txt) &\ndisown\nexit 0\n")
    result, _ = run(folder)
    assert result.ok
    time.sleep(4)
    assert not (folder / "late.txt").exists()


def test_a_bundle_can_only_be_given_allow_listed_environment_names(tmp_path):
    folder = script_bundle(tmp_path, "env > env.txt\n")
    with pytest.raises(ValueError, match="DECENTRALML_SURI"):
        run(folder, env={"DECENTRALML_SURI": FAKE_SURI})
    result, _ = run(folder, env={"DECENTRALML_SHARD_INDEX": "2"})
    names = {line.split("=", 1)[0] for line in (folder / "env.txt").read_text().splitlines()}
    assert names <= sandbox.BUNDLE_ENVIRONMENT | {
        "PATH", "HOME", "TMPDIR", "LANG", "PWD", "SHLVL", "_", "OLDPWD", "DECENTRALML_PYTHON",
        "DECENTRALML_OUTPUT_DIR", "DECENTRALML_SANDBOX"}
    assert "DECENTRALML_SHARD_INDEX" in names


def test_a_bundle_running_as_root_still_cannot_read_what_only_root_may_read(tmp_path):
    shadow = Path("/etc/shadow")
    assert shadow.is_file() and not shadow.stat().st_mode & 0o004 and shadow.read_text()
    folder = script_bundle(tmp_path, """\
        cat /etc/shadow > shadow.txt 2>&1
        ls -A /root /home /work /run /var/lib > ls.txt 2>&1
        id -u > uid.txt
        if unshare --user --map-root-user true 2>/dev/null; then echo made > userns.txt
        else echo refused > userns.txt; fi
        """)
    result, _ = run(folder)
    assert result.ok
    assert (folder / "userns.txt").read_text() == "refused\n"  # no namespace to regain powers in
    assert "root:" not in (folder / "shadow.txt").read_text()
    assert "No such file or directory" in (folder / "ls.txt").read_text()


def test_a_bundles_output_cannot_drive_the_terminal(tmp_path):
    folder = script_bundle(tmp_path, r"printf 'a\033]52;c;aGk=\007b\033[2J\rc\n'" + "\n")
    result, output = run(folder)
    assert result.ok
    assert "\x1b" not in output and "\r" not in output and "\x07" not in output
    assert output == r"a\x1b]52;c;aGk=\x07b\x1b[2J\x0dc"


def test_a_folder_holding_a_secret_is_never_shown_to_a_bundle(tmp_path, monkeypatch):
    home = tmp_path / "home"
    (home / ".config" / "decentralml").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    folder = script_bundle(tmp_path, "true\n")
    with pytest.raises(UserInputError, match="must stay out of the bundle's reach"):
        run(folder, read_only=(home,))
    with pytest.raises(UserInputError, match="whole file system"):
        run(folder, read_only=(Path("/"),))
    (home / "start_task.sh").write_text("true\n")
    with pytest.raises(UserInputError, match="the bundle folder .* holds"):
        run(home)  # a home run as a bundle folder would be mounted writable
    assert not (home / "output").exists()
    data = tmp_path / "data"
    data.mkdir()
    (data / "mine.csv").write_text("1,2\n")
    script_dir = script_bundle(tmp_path / "b2", f"cat {data}/mine.csv > seen.txt\n")
    result, _ = run(script_dir, read_only=(data,))
    assert result.ok and (script_dir / "seen.txt").read_text() == "1,2\n"


def test_without_the_sandbox_the_environment_is_still_cleared_but_files_are_in_reach(
        tmp_path, monkeypatch):
    """What --no-sandbox gives up: the script reads the contributor's files and writes
    outside its folder. Its environment is still only the allow-listed names."""
    key_file = tmp_path / "key"
    key_file.write_text("secret key file\n")
    monkeypatch.setenv("DECENTRALML_SURI", FAKE_SURI)
    folder = script_bundle(tmp_path, f"""\
        env > env.txt
        cat {key_file} > key.txt
        echo out > {tmp_path}/outside.txt
        """)
    result, _ = run(folder, isolate=False)
    assert result.ok
    assert FAKE_SURI not in (folder / "env.txt").read_text()
    assert (folder / "key.txt").read_text() == "secret key file\n"
    assert (tmp_path / "outside.txt").exists()


def test_a_result_is_one_real_savedmodel_folder_and_links_are_not_followed(tmp_path):
    folder = script_bundle(tmp_path, """\
        mkdir -p real output/model
        touch real/saved_model.pb output/model/saved_model.pb
        ln -s ../real output/linked
        """)
    result, _ = run(folder)
    assert result.ok
    assert sandbox.find_result(result.output_dir) == folder / "output" / "model"

    other = script_bundle(tmp_path / "b2", "mkdir real && touch real/saved_model.pb\n"
                                           "rmdir output && ln -s real output\n")
    result, _ = run(other)
    with pytest.raises(BundleError, match="not a folder"):
        sandbox.find_result(result.output_dir)

    empty = script_bundle(tmp_path / "b3", "true\n")
    result, _ = run(empty)
    with pytest.raises(BundleError, match="should leave one SavedModel folder"):
        sandbox.find_result(result.output_dir)


def test_a_bundle_shipped_with_output_is_refused_before_it_runs(tmp_path):
    folder = script_bundle(tmp_path, "true\n")
    (folder / "output" / "planted").mkdir(parents=True)
    (folder / "output" / "planted" / "saved_model.pb").write_bytes(b"")
    with pytest.raises(BundleError, match="already holds files"):
        run(folder)


@pytest.mark.parametrize("settings, network", [
    (None, False), ({"EPOCHS": 1}, False), ({"NETWORK": False}, False), ({"NETWORK": True}, True),
    ({"network": True}, True)])
def test_a_task_asks_for_the_network_in_its_task_settings(tmp_path, settings, network):
    folder = script_bundle(tmp_path, "true\n", settings)
    assert sandbox.task_needs(folder).network is network


@pytest.mark.parametrize("text", ['{"NETWORK": "yes"}', '[1, 2]', "not json",
                                  '{"pad": "' + "x" * 70_000 + '"}'])
def test_malformed_task_settings_are_refused(tmp_path, text):
    folder = script_bundle(tmp_path, "true\n")
    (folder / "task_settings.json").write_text(text)
    with pytest.raises(BundleError, match="task_settings.json"):
        sandbox.task_needs(folder)


# --------------------------------------------------------------------------- the commands, on the dev chain


@pytest.fixture
def chain(devnet_url, substrate, dev_keys, tmp_path):  # noqa: F811
    """Run the CLI against the dev chain and a local store, with no config file."""

    class Chain:
        env = {"DECENTRALML_URL": devnet_url, "DECENTRALML_LOCAL_STORE": str(tmp_path / "store"),
               "DECENTRALML_CONFIG": str(tmp_path / "no-config.toml"), "DECENTRALML_SURI": None,
               "DECENTRALML_KEY_FILE": None}

        @staticmethod
        def account():
            return fresh_account(substrate, dev_keys["alice"], 1000 * UNIT)

        def run(self, *args, signer=None, env=None):
            full = dict(self.env, **(env or {}))
            if signer is not None:
                full["DECENTRALML_SURI"] = signer.mnemonic
            return invoke(args, env=full)

        def create(self, creator, bundle, *extra, storage="local") -> int:
            """A task of 2 slots at 1 DML."""
            return create_task(self.run, creator, bundle, storage=storage, pays="1DML", slots=2,
                               question="Train", extra=extra)["task_id"]

        def submissions(self, task_id) -> list[dict]:
            return json.loads(ok(self.run("list_task_results", task_id, "--json")).stdout)

    return Chain()


def result_script(extra: str = "") -> str:
    """An honest bundle in a few lines: it leaves one SavedModel-shaped folder."""
    return textwrap.dedent(f"""\
        mkdir -p "$DECENTRALML_OUTPUT_DIR/model_$DECENTRALML_CONTRIBUTOR_ID"
        cd "$DECENTRALML_OUTPUT_DIR/model_$DECENTRALML_CONTRIBUTOR_ID"
        echo graph > saved_model.pb
        echo "shard $DECENTRALML_SHARD_INDEX of $DECENTRALML_NUM_SHARDS" > shard.txt
        {extra}
        """)


def test_a_bundle_that_cannot_be_fetched_costs_no_slot_and_a_retry_works(chain, tmp_path):
    creator, bob = chain.account(), chain.account()
    task_id = chain.create(creator, script_bundle(tmp_path / "src", result_script()))
    [stored] = list((tmp_path / "store").iterdir())
    hidden = stored.rename(tmp_path / "away")
    failed = chain.run("assign_task", task_id, "--dest", tmp_path / "task", "--run", signer=bob)
    assert failed.exit_code == 1, failed.output
    assert failed.stderr.startswith("error: ") and "submission" not in failed.stdout
    assert chain.submissions(task_id) == []  # no slot taken
    assert not (tmp_path / "task").exists()

    hidden.rename(stored)
    again = ok(chain.run("--json", "assign_task", task_id, "--dest", tmp_path / "task", signer=bob))
    submission_id = json.loads(again.stdout)["submission_id"]
    assert [s["submission_id"] for s in chain.submissions(task_id)] == [submission_id]


def test_fetch_bundle_fetches_a_task_again_without_a_slot_or_a_signer(chain, tmp_path):
    creator = chain.account()
    source = script_bundle(tmp_path / "src", result_script())
    task_id = chain.create(creator, source)
    fetched = json.loads(ok(chain.run("--json", "fetch_bundle", task_id, "--dest",
                                      tmp_path / "again")).stdout)
    assert fetched == {"task_id": task_id, "bundle_dir": str(tmp_path / "again")}
    assert (tmp_path / "again" / "start_task.sh").read_bytes() == (source / "start_task.sh").read_bytes()
    assert chain.submissions(task_id) == []
    exists = chain.run("fetch_bundle", task_id, "--dest", tmp_path / "again")
    assert exists.exit_code == 2 and "already exists" in exists.stderr


def test_run_task_runs_a_fetched_bundle_for_a_slot_you_hold_and_sends_its_result(chain, tmp_path):
    creator, bob = chain.account(), chain.account()
    task_id = chain.create(creator, script_bundle(tmp_path / "src", result_script()))
    assigned = ok(chain.run("assign_task", task_id, "--dest", tmp_path / "task", signer=bob))
    submission_id = int(assigned.stdout.split()[1].rstrip(":"))
    assert f"decentralml run_task {submission_id} --bundle" in assigned.stdout
    sent = json.loads(ok(chain.run("--json", "run_task", submission_id, "--bundle", tmp_path / "task",
                                    "--shard-index", 2, "--num-shards", 3, signer=bob)).stdout)
    assert (sent["submission_id"], sent["task_id"], sent["status"]) == (submission_id, task_id, "Pending")
    assert Path(sent["result_dir"]).parent.resolve() == (tmp_path / "task" / "output").resolve()
    assert sent["seconds"] >= 0
    [sub] = chain.submissions(task_id)
    assert sent["result_location"] == sub["result_location"]
    assert sub["result_location"]["storage_type"] == "Local"
    got = json.loads(ok(chain.run("download_task_result", submission_id, "--dest", tmp_path / "got",
                                  "--json")).stdout)["dest"]
    assert (Path(got) / "shard.txt").read_text() == "shard 2 of 3\n"
    again = chain.run("run_task", submission_id, "--bundle", tmp_path / "task", signer=bob)
    assert again.exit_code == 2 and "only an assigned slot" in again.stderr
    other = chain.run("run_task", submission_id, "--bundle", tmp_path / "task",
                      signer=chain.account())
    assert other.exit_code == 2 and "not to the signer" in other.stderr


def test_a_bundle_that_leaves_no_result_sends_nothing(chain, tmp_path):
    creator, bob = chain.account(), chain.account()
    task_id = chain.create(creator, script_bundle(tmp_path / "src", "echo trained nothing\n"))
    result = chain.run("assign_task", task_id, "--dest", tmp_path / "task", "--run", signer=bob)
    assert result.exit_code == 1
    assert "should leave one SavedModel folder" in result.stderr
    [sub] = chain.submissions(task_id)
    assert sub["status"] == "Assigned" and sub["result_location"] is None


def test_a_task_asking_for_the_network_needs_the_contributors_consent_before_a_slot_is_taken(
        chain, tmp_path):
    listener = Listener()
    try:
        creator, bob = chain.account(), chain.account()
        script = textwrap.dedent(f"""\
            if (exec 3<>/dev/tcp/127.0.0.1/{listener.port}) 2>/dev/null; then
              echo connected > net.txt; else echo refused > net.txt; fi
            """) + result_script()
        task_id = chain.create(creator, script_bundle(tmp_path / "src", script, {"NETWORK": True}))
        refused = chain.run("assign_task", task_id, "--dest", tmp_path / "task", "--run", signer=bob)
        assert refused.exit_code == 2
        assert "asks for the network" in refused.stderr and "--allow-network" in refused.stderr
        assert chain.submissions(task_id) == [] and not (tmp_path / "task").exists()

        ok(chain.run("assign_task", task_id, "--dest", tmp_path / "task", "--run",
                     "--allow-network", signer=bob))
        assert (tmp_path / "task" / "net.txt").read_text().strip() == "connected"
        assert listener.accepted >= 1
    finally:
        listener.close()


def test_the_example_bundle_trains_in_the_sandbox_and_the_client_sends_its_result(
        chain, kubo, minio, tmp_path):
    """The honest example bundle, end to end: on IPFS, run by assign_task --run with
    AWS credentials in the contributor's environment (MinIO's), its result stored on S3
    sealed to the creator's key and sent by the client."""
    from assets.model_creator import model_creator

    creator, bob = chain.account(), chain.account()
    bundle = model_creator.prepare_bundle(model_creator.create_model(hidden_units=16),
                                          tmp_path / "bundle")
    settings = json.loads((bundle / "task_settings.json").read_text())
    (bundle / "task_settings.json").write_text(json.dumps({**settings, "MAX_SAMPLES": 600}))
    key = tmp_path / "result_key"
    ok(chain.run("keys", "generate", "--path", key))
    services = {"DECENTRALML_IPFS_API": kubo.api_url, "DECENTRALML_S3_ENDPOINT": minio.endpoint_url,
                "DECENTRALML_S3_BUCKET": "sandbox-tests"}
    chain.env.update(services)
    task_id = chain.create(creator, bundle, "--result-key", key.with_suffix(".pub"), storage="ipfs")
    assert os.environ.get("AWS_SECRET_ACCESS_KEY")  # the contributor holds storage credentials

    result = ok(chain.run("assign_task", task_id, "--dest", tmp_path / "task", "--run",
                          "--shard-index", 1, "--num-shards", 3, "--storage", "s3", signer=bob))
    assert "in the sandbox, no network" in result.stderr
    assert "[decentralml] python: " in result.stdout and "(in the sandbox)" in result.stdout
    assert "sent the result of submission" in result.stdout
    [sub] = chain.submissions(task_id)
    assert sub["status"] == "Pending" and sub["result_location"]["storage_type"] == "S3"

    got = Path(json.loads(ok(chain.run("download_task_result", sub["submission_id"], "--dest",
                                       tmp_path / "got", "--result-key-file", key,
                                       "--json")).stdout)["dest"])
    assert (got / "saved_model.pb").is_file() and (got / "variables").is_dir()
    info = json.loads((got / "decentralml_result.json").read_text())
    assert info["samples"] == 600 and info["shard_index"] == 1 and info["num_shards"] == 3
    assert info["contributor_id"] == bob.ss58_address[:8]
    # What was sent is what the bundle left, sealed: only the creator's key opens it.
    [made] = [p for p in (tmp_path / "task" / "output").iterdir() if p.is_dir()]
    assert (got / "variables" / "variables.index").read_bytes() == \
        (made / "variables" / "variables.index").read_bytes()
    sealed = chain.run("download_task_result", sub["submission_id"], "--dest", tmp_path / "nokey")
    assert sealed.exit_code != 0 and not (tmp_path / "nokey").exists()


def test_a_key_file_kept_in_a_system_folder_is_hidden_even_if_anyone_may_read_it(tmp_path):
    # /etc/hostname stands in for a world-readable key file kept under /etc.
    secret = Path("/etc/hostname")
    assert secret.stat().st_mode & 0o004 and secret.read_text().strip()
    folder = script_bundle(tmp_path, "cat /etc/hostname > seen.txt 2>&1\ntrue\n")
    lines: list[str] = []
    result = sandbox.run_bundle(folder, {}, echo=lines.append, secrets=[secret])
    assert result.ok
    seen = (folder / "seen.txt").read_text()
    assert secret.read_text() not in seen and seen.splitlines() != secret.read_text().splitlines()
