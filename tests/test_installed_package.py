"""The package as a user installs it: a wheel built from this checkout, installed
(not editable) into a fresh venv, run from an empty folder elsewhere, with the
repository not importable.

``decentralml --help``, ``decentralml devnet up`` (Chopsticks found in the cache, the
chain spec in the package), ``decentralml bundle init`` (the example bundle shipped as
package data), ``decentralml run_round`` (which starts Kubo and MinIO itself) and
``decentralml storage status / up / env / down`` (which find and stop those daemons) must
all work from there.

Installing TensorFlow again would take minutes, so the wheel is installed with
``--no-deps`` and the fresh venv's site-packages gets the project venv's packages as
hard links (same files, no copy). Links rather than a ``.pth`` file naming the project
venv: the round runs each contributor's bundle in the sandbox, which shows the bundle
only the folders of the Python it is given, the fresh venv.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.daemons import alive

REPO = Path(__file__).resolve().parent.parent
PROJECT_VENV = Path(sys.prefix)
SITE = f"lib/python{sys.version_info.major}.{sys.version_info.minor}/site-packages"
#: What TensorFlow, absl and CUDA print when they start, and what setuptools warns about.
NOISE = re.compile(r"tensorflow|absl|cuda|onednn|cpu_feature_guard|W0000|I0000|E0000|\.cc:\d+\]",
                   re.IGNORECASE)
SETUPTOOLS_WARNINGS = re.compile(r"warning|deprecat|!!|\*\*\*\*", re.IGNORECASE)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _run(argv, *, cwd, env=None, timeout=300) -> subprocess.CompletedProcess:
    started = time.monotonic()
    proc = subprocess.run([str(a) for a in argv], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    print(f"{time.monotonic() - started:6.1f}s  {' '.join(str(a) for a in argv[:4])} ...")
    assert proc.returncode == 0, f"{argv} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc


def _source_copy(dest: Path) -> Path:
    """What a source distribution holds, copied apart so the build leaves nothing in the
    checkout (and nothing left over from an earlier build ends up in the wheel)."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, dest / name)
    for name in ("substrate_client", "assets"):
        shutil.copytree(REPO / name, dest / name, symlinks=True, ignore=ignore)
    return dest


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(the fresh venv, the environment to run its commands in)."""
    root = tmp_path_factory.mktemp("installed")
    (root / "src").mkdir()
    src = _source_copy(root / "src")
    built = _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", root / "dist", src],
                 cwd=root)
    assert not SETUPTOOLS_WARNINGS.search(built.stdout + built.stderr), built.stdout + built.stderr
    wheel = next((root / "dist").glob("decentralml-*.whl"))

    venv = root / "venv"
    _run([sys._base_executable, "-m", "venv", "--without-pip", venv], cwd=root)
    # The project venv's packages, linked; not its own (editable) install of this package.
    _run(["cp", "-al", f"{PROJECT_VENV / SITE}/.", venv / SITE], cwd=root)
    for leftover in [*(venv / SITE).glob("__editable__*"), *(venv / SITE).glob("decentralml-*"),
                     *(venv / SITE).glob("substrate_client*")]:
        shutil.rmtree(leftover) if leftover.is_dir() else leftover.unlink()
    installing = _run([sys.executable, "-m", "pip", "--python", venv / "bin" / "python", "install",
                       "--no-deps", "--no-index", wheel], cwd=root)
    assert not SETUPTOOLS_WARNINGS.search(installing.stdout + installing.stderr), installing.stderr

    state = root / "state"
    env = {"PATH": f"{venv / 'bin'}:/usr/bin:/bin", "HOME": str(Path.home()), "LANG": "C.UTF-8",
           "DECENTRALML_CONFIG": str(state / "no-config.toml"),
           "DECENTRALML_STATE_DIR": str(state / "client"),
           "DECENTRALML_RUN_DIR": str(state / "run"),
           "DECENTRALML_PORT": str(_free_port()),
           "DECENTRALML_IPFS_PORT": str(_free_port()),
           "DECENTRALML_IPFS_GATEWAY_PORT": str(_free_port()),
           "DECENTRALML_S3_PORT": str(_free_port()),
           "DECENTRALML_S3_CONSOLE_PORT": str(_free_port()),
           "AWS_CONFIG_FILE": "/nonexistent/decentralml-test",
           "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/decentralml-test"}
    if "DECENTRALML_CACHE" in os.environ:  # where the install put Chopsticks, Kubo, MinIO
        env["DECENTRALML_CACHE"] = os.environ["DECENTRALML_CACHE"]
    try:
        yield venv, env
    finally:
        python = venv / "bin" / "python"
        subprocess.run([python, "-m", "substrate_client.cli", "devnet", "down"], env=env,
                       cwd=root, capture_output=True, timeout=60)
        subprocess.run([python, "-m", "substrate_client.cli", "storage", "down"], env=env,
                       cwd=root, capture_output=True, timeout=60)


@pytest.fixture
def elsewhere(tmp_path) -> Path:
    """An empty folder, far from the checkout."""
    folder = tmp_path / "empty"
    folder.mkdir()
    assert not str(folder).startswith(str(REPO))
    return folder


def test_the_package_is_imported_from_the_wheel_not_the_checkout(installed, elsewhere):
    venv, env = installed
    code = ("import json, sys, substrate_client, substrate_client.demo.example as e; "
            "print(json.dumps([substrate_client.__file__, str(e.assets_dir()), sys.path]))")
    where, assets, path = json.loads(_run([venv / "bin" / "python", "-c", code], cwd=elsewhere,
                                          env=env).stdout)
    assert Path(where).is_relative_to(venv / SITE), where
    assert not any(p and Path(p).resolve().is_relative_to(REPO) for p in path), path
    # The example task is a copy of assets/, not a link into the checkout.
    start = Path(assets) / "model_contributor" / "start_task.sh"
    assert not Path(assets).is_symlink() and start.is_file()
    assert start.read_bytes() == (REPO / "assets" / "model_contributor" / "start_task.sh").read_bytes()


def test_help_lists_the_commands(installed, elsewhere):
    venv, env = installed
    out = _run([venv / "bin" / "decentralml", "--help"], cwd=elsewhere, env=env).stdout
    for name in ("create_task", "devnet", "bundle", "run_round", "show_round"):
        assert name in out


def test_bundle_init_writes_the_walk_through_bundle(installed, elsewhere):
    venv, env = installed
    proc = _run([venv / "bin" / "decentralml", "bundle", "init", "my_task"], cwd=elsewhere, env=env)
    bundle = elsewhere / "my_task"
    assert sorted(p.name for p in bundle.iterdir()) == [
        "model", "model_contributor.py", "requirements.txt", "settings.py", "start_task.sh",
        "task_settings.json"]
    for name in ("model_contributor.py", "requirements.txt", "settings.py", "start_task.sh"):
        assert (bundle / name).read_bytes() == (REPO / "assets" / "model_contributor" / name).read_bytes()
    assert os.access(bundle / "start_task.sh", os.X_OK)
    assert (bundle / "model" / "saved_model.pb").is_file()
    assert json.loads((bundle / "task_settings.json").read_text())["MODEL_NAME"] == "mnist_mlp"
    assert not NOISE.search(proc.stderr), proc.stderr
    # A folder that holds files is refused, and left as it was.
    again = subprocess.run([venv / "bin" / "decentralml", "bundle", "init", "my_task"],
                           cwd=elsewhere, env=env, capture_output=True, text=True, timeout=120)
    assert again.returncode == 2 and "already holds files" in again.stderr
    assert (bundle / "model" / "saved_model.pb").is_file()


def test_devnet_up_and_the_main_job_run_outside_the_checkout(installed, elsewhere):
    venv, env = installed
    dml = venv / "bin" / "decentralml"
    port = env["DECENTRALML_PORT"]
    up = _run([dml, "devnet", "up"], cwd=elsewhere, env=env, timeout=240)
    assert f"ws://127.0.0.1:{port}" in up.stdout
    # Kubo and MinIO are started by the round itself, on the ports the environment names.
    proc = _run([dml, "--json", "run_round", "--out", "run", "--rounds", "1", "--contributors", "Bob,Eve",
                 "--saboteurs", "Eve", "--max-samples", "1000", "--epochs", "1"],
                cwd=elsewhere, env=env, timeout=600)
    summary = json.loads(proc.stdout)
    (only,) = summary["rounds"]
    bob, eve = only["results"]
    assert (bob["name"], bob["decision"], bob["paid"]) == ("Bob", "accepted", summary["reward"])
    assert (eve["name"], eve["decision"], eve["paid"]) == ("Eve", "rejected", 0)
    assert [c["paid"] for c in summary["contributors"]] == [summary["reward"], 0]
    assert summary["federated_accuracy"] > summary["initial_accuracy"]
    assert Path(summary["summary_path"]).is_file() and Path(summary["chart_path"]).is_file()
    assert Path(summary["run_dir"]) == elsewhere / "run"
    assert not NOISE.search(proc.stderr), proc.stderr
    assert f"http://127.0.0.1:{env['DECENTRALML_IPFS_PORT']}" in proc.stderr

    # The daemons the round started are `decentralml storage`'s own: status, env and down
    # see them, on the ports the environment names, from the run folder it names.
    run_dir = Path(env["DECENTRALML_RUN_DIR"])
    ipfs_api = f"http://127.0.0.1:{env['DECENTRALML_IPFS_PORT']}"
    s3_endpoint = f"http://127.0.0.1:{env['DECENTRALML_S3_PORT']}"
    status = json.loads(_run([dml, "storage", "status", "--json"], cwd=elsewhere, env=env).stdout)
    assert status["running"] is True and Path(status["run_dir"]) == run_dir
    assert (status["kubo"]["url"], status["minio"]["url"]) == (ipfs_api, s3_endpoint)
    pids = {name: status[name]["pid"] for name in ("kubo", "minio")}
    assert all(status[name]["running"] and alive(pid) for name, pid in pids.items())
    again = json.loads(_run([dml, "--json", "storage", "up"], cwd=elsewhere, env=env).stdout)
    assert {name: again[name]["pid"] for name in ("kubo", "minio")} == pids  # nothing new
    exports = _run([dml, "storage", "env"], cwd=elsewhere, env=env).stdout.splitlines()
    assert f"export DECENTRALML_IPFS_API={ipfs_api}" in exports
    assert f"export DECENTRALML_S3_ENDPOINT={s3_endpoint}" in exports
    assert {line.split("=", 1)[0] for line in exports} == {
        "export DECENTRALML_IPFS_API", "export DECENTRALML_S3_ENDPOINT",
        "export AWS_ACCESS_KEY_ID", "export AWS_SECRET_ACCESS_KEY"}
    down = json.loads(_run([dml, "--json", "storage", "down"], cwd=elsewhere, env=env).stdout)
    assert sorted(down["stopped"]) == ["kubo", "minio"]
    assert not any(alive(pid) for pid in pids.values())
    stopped = subprocess.run([dml, "storage", "status", "--json"], cwd=elsewhere, env=env,
                             capture_output=True, text=True, timeout=60)
    assert stopped.returncode == 3, stopped.stderr
    status = json.loads(stopped.stdout)
    assert not status["running"] and not status["kubo"]["running"] and not status["minio"]["running"]
