"""``decentralml storage up|status|env|down`` against real Kubo and MinIO, on ports and in a
folder of their own (a developer's running daemons are never touched)."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import boto3
import pytest
import requests

from tests.daemons import free_port

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def storage(tmp_path):
    """Runs ``decentralml storage ...`` with its own run folder and ports; stops what it started."""
    env = {name: os.environ[name] for name in ("PATH", "HOME", "LANG", "DECENTRALML_CACHE")
           if name in os.environ}
    env.update({"DECENTRALML_RUN_DIR": str(tmp_path / "run"),
                "DECENTRALML_IPFS_PORT": str(free_port()),
                "DECENTRALML_IPFS_GATEWAY_PORT": str(free_port()),
                "DECENTRALML_S3_PORT": str(free_port()),
                "DECENTRALML_S3_CONSOLE_PORT": str(free_port()),
                "PYTHONPATH": str(REPO),
                # A caller's secrets, which the daemons must not get.
                "DECENTRALML_SURI": "//Alice", "AWS_SESSION_TOKEN": "caller-token"})

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "substrate_client.cli", "storage", *args],
                              env=env, cwd=tmp_path, capture_output=True, text=True, timeout=180)

    run.env = env
    run.run_dir = tmp_path / "run"
    yield run
    run("down")


def _environ(pid: int) -> dict[str, str]:
    entries = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(e.decode().partition("=")[::2] for e in entries if e)


def test_storage_up_env_status_down_runs_both_daemons_and_stops_only_them(storage):
    started = storage("up")
    assert started.returncode == 0, started.stderr
    state = json.loads(storage("status", "--json").stdout)
    assert state["running"] and state["kubo"]["pid"] and state["minio"]["pid"]
    assert f"kubo:  running (pid {state['kubo']['pid']})" in started.stdout

    # A second `up` starts nothing new.
    again = storage("up", "--json")
    assert again.returncode == 0, again.stderr
    assert [json.loads(again.stdout)[d]["pid"] for d in ("kubo", "minio")] == \
        [state["kubo"]["pid"], state["minio"]["pid"]]

    # `env` prints the exports the client needs; with them, both daemons answer.
    exports = dict(line.removeprefix("export ").split("=", 1)
                   for line in storage("env").stdout.splitlines())
    exports = {name: shlex.split(value)[0] for name, value in exports.items()}
    assert exports["DECENTRALML_IPFS_API"] == f"http://127.0.0.1:{storage.env['DECENTRALML_IPFS_PORT']}"
    assert requests.post(f"{exports['DECENTRALML_IPFS_API']}/api/v0/version", timeout=5).ok
    s3 = boto3.client("s3", endpoint_url=exports["DECENTRALML_S3_ENDPOINT"], region_name="us-east-1",
                      aws_access_key_id=exports["AWS_ACCESS_KEY_ID"],
                      aws_secret_access_key=exports["AWS_SECRET_ACCESS_KEY"])
    s3.create_bucket(Bucket="devstorage-test")
    assert "devstorage-test" in [b["Name"] for b in s3.list_buckets()["Buckets"]]

    # The files are where scripts/storage.sh always kept them; the credentials are yours only.
    credentials = storage.run_dir / "minio" / "credentials"
    assert credentials.stat().st_mode & 0o077 == 0
    assert (storage.run_dir / "kubo.pid").read_text().strip() == str(state["kubo"]["pid"])
    assert (storage.run_dir / "logs" / "minio.log").is_file()

    # No caller secret in a daemon's environment, and MinIO's password not in its argv.
    for daemon in ("kubo", "minio"):
        environ = _environ(state[daemon]["pid"])
        assert "DECENTRALML_SURI" not in environ and "AWS_SESSION_TOKEN" not in environ
    argv = Path(f"/proc/{state['minio']['pid']}/cmdline").read_bytes().decode()
    assert exports["AWS_SECRET_ACCESS_KEY"] not in argv

    stopped = storage("down")
    assert stopped.returncode == 0 and stopped.stdout.split("\n")[:2] == ["kubo stopped", "minio stopped"]
    for daemon in ("kubo", "minio"):
        assert not Path(f"/proc/{state[daemon]['pid']}").exists()
    after = storage("status")
    assert after.returncode == 3 and "kubo:  stopped" in after.stdout and "minio: stopped" in after.stdout


def test_storage_down_leaves_a_program_whose_pid_a_stale_pid_file_names(storage):
    storage.run_dir.mkdir(parents=True)
    other = subprocess.Popen(["sleep", "60"])
    try:
        (storage.run_dir / "kubo.pid").write_text(f"{other.pid}\n")
        (storage.run_dir / "minio.pid").write_text(f"{other.pid}\n")
        stopped = storage("down")
        assert stopped.returncode == 0 and "kubo not running" in stopped.stdout
        assert other.poll() is None
        assert storage("status").returncode == 3
    finally:
        other.kill()
        other.wait()


def test_storage_env_before_any_up_is_a_clear_error(storage):
    result = storage("env")
    assert result.returncode == 2 and "storage up" in result.stderr and result.stdout == ""
