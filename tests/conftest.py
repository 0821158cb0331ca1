"""Shared fixtures: real daemons started once per test session.

Storage: ``kubo`` (an offline IPFS node) and ``minio`` (an S3 server, with
AWS_* credentials for boto3 set in the environment while it runs). A missing
binary or a failed start fails the tests that need it, naming the cause.
"""

from __future__ import annotations

import pytest

from tests import daemons
from tests.chain_fixtures import network_url


def _start(start, tmp_path_factory, name):
    try:
        return start(tmp_path_factory.mktemp(name))
    except daemons.DaemonError as e:
        why = str(e)
    pytest.fail(why, pytrace=False)


@pytest.fixture(scope="session")
def kubo(tmp_path_factory):
    """A running Kubo node; ``kubo.api_url`` is its RPC API."""
    node = _start(daemons.start_kubo, tmp_path_factory, "kubo")
    yield node
    node.stop()


@pytest.fixture(scope="session")
def minio(tmp_path_factory):
    """A running MinIO server; ``minio.endpoint_url`` is its S3 endpoint."""
    server = _start(daemons.start_minio, tmp_path_factory, "minio")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("AWS_ACCESS_KEY_ID", daemons.MINIO_USER)
        env.setenv("AWS_SECRET_ACCESS_KEY", daemons.MINIO_PASSWORD)
        env.setenv("AWS_DEFAULT_REGION", "us-east-1")
        # Keep the developer's own AWS profile and files out of the tests.
        env.delenv("AWS_PROFILE", raising=False)
        env.delenv("AWS_SESSION_TOKEN", raising=False)
        env.setenv("AWS_CONFIG_FILE", "/nonexistent/decentralml-test")
        env.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/decentralml-test")
        yield server
    server.stop()


#: Why a test runs on the dev chain only, by marker; the network run leaves these out.
DEV_CHAIN_ONLY = ("dev_chain_only: needs the dev chain's powers (building a block at any height "
                  "with dev_newBlock to pass a deadline, dev_setStorage, a fresh genesis), which a "
                  "network of validators does not have")


_LEFT_OUT = pytest.StashKey[str]()


def pytest_configure(config):
    config.addinivalue_line("markers", DEV_CHAIN_ONLY)


def pytest_collection_modifyitems(config, items):
    """Against a network (``scripts/test.sh --network``), leave the dev-chain-only tests
    out, saying how many and why."""
    if not network_url():
        return
    left_out = [item for item in items if item.get_closest_marker("dev_chain_only")]
    if not left_out:
        return
    config.hook.pytest_deselected(items=left_out)
    items[:] = [item for item in items if not item.get_closest_marker("dev_chain_only")]
    config.stash[_LEFT_OUT] = (f"against the network at {network_url()}: {len(left_out)} "
                               f"test(s) left out, marked {DEV_CHAIN_ONLY}")


def pytest_terminal_summary(terminalreporter, config):
    if _LEFT_OUT in config.stash:
        terminalreporter.write_line(config.stash[_LEFT_OUT])


# The dev chain (Chopsticks executing the runtime wasm), shared by the session.
from tests.chain_fixtures import dev_keys, devnet_url, substrate  # noqa: E402,F401
# Running the CLI as an account against it (tests/fixtures.py).
from tests.fixtures import account, clean_settings, dml, saved_model, store  # noqa: E402,F401
