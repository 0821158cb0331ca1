"""``substrate_client.config``: each setting comes from the value given, then the
environment, then the config file, the same for library users as for the CLI."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest

from substrate_client import config
from substrate_client.chain import DEFAULT_URL
from substrate_client.errors import ConfigError


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_each_setting_comes_from_the_given_value_then_the_environment_then_the_config_file(tmp_path):
    path = write(tmp_path / "config.toml", 'url = "ws://file:1"\nipfs_api = "http://file:5001"\n'
                                           's3_bucket = "file-bucket"\n')
    environ = {"DECENTRALML_URL": "ws://env:1", "DECENTRALML_IPFS_API": "http://env:5001"}

    s = config.resolve({"url": "ws://flag:1"}, environ=environ, path=path)
    assert (s.url, s.ipfs_api, s.s3_bucket) == ("ws://flag:1", "http://env:5001", "file-bucket")
    assert config.resolve(environ=environ, path=path).url == "ws://env:1"
    assert config.resolve(environ={}, path=path).url == "ws://file:1"
    # Empty values count as unset.
    assert config.resolve({"url": ""}, environ={"DECENTRALML_URL": ""}, path=path).url == "ws://file:1"


def test_nothing_set_leaves_the_library_defaults(tmp_path):
    s = config.resolve(environ={}, path=tmp_path / "missing.toml")
    assert s == config.Settings()
    assert s.storage_settings() == {}
    assert s.environment() == {"DECENTRALML_URL": DEFAULT_URL}


def test_the_config_file_is_decentralml_config_else_under_xdg_config_home(tmp_path):
    assert config.config_path({"DECENTRALML_CONFIG": str(tmp_path / "c.toml")}) == tmp_path / "c.toml"
    assert config.config_path({"XDG_CONFIG_HOME": str(tmp_path)}) == \
        tmp_path / "decentralml" / "config.toml"
    write_to = tmp_path / "decentralml" / "config.toml"
    write_to.parent.mkdir()
    write(write_to, 'url = "ws://xdg:1"\n')
    assert config.resolve(environ={"XDG_CONFIG_HOME": str(tmp_path)}).url == "ws://xdg:1"


def test_the_key_file_never_comes_from_the_config_file_and_unknown_keys_are_ignored(tmp_path, caplog):
    path = write(tmp_path / "config.toml", 'key_file = "/tmp/k"\ncolour = "blue"\n')
    with caplog.at_level(logging.WARNING, logger="substrate_client.config"):
        s = config.resolve(environ={}, path=path)
    assert s.key_file is None
    assert "key_file" in caplog.text and "colour" in caplog.text
    assert config.resolve(environ={"DECENTRALML_KEY_FILE": "/tmp/k"}, path=path).key_file == "/tmp/k"


@pytest.mark.parametrize("text", ["url = \n", "url = 5\n"])
def test_a_malformed_config_file_is_a_config_error_naming_the_file(tmp_path, text):
    path = write(tmp_path / "config.toml", text)
    with pytest.raises(ConfigError, match=str(path)):
        config.resolve(environ={}, path=path)


def test_an_unknown_setting_is_a_programming_error():
    with pytest.raises(TypeError, match="suri"):
        config.resolve({"suri": "//Alice"}, environ={})


def test_a_child_process_gets_the_settings_with_absolute_paths_and_no_secrets(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    s = config.Settings(url="ws://node:1", key_file="bob.key", local_store="store", s3_bucket="b")
    assert s.environment() == {
        "DECENTRALML_URL": "ws://node:1",
        "DECENTRALML_KEY_FILE": str(tmp_path / "bob.key"),
        "DECENTRALML_S3_BUCKET": "b",
        "DECENTRALML_LOCAL_STORE": str(tmp_path / "store"),
    }


# --- size limits on what comes from the other side ----------------------------


def test_storage_limits_come_from_the_value_given_then_the_environment_then_the_defaults():
    from substrate_client.storage.limits import (DEFAULT_MAX_ARCHIVE_MEMBERS,
                                                 DEFAULT_MAX_DOWNLOAD_BYTES, StorageLimits)

    environ = {"DECENTRALML_MAX_DOWNLOAD_BYTES": "1_000_000", "DECENTRALML_MAX_UNPACKED_BYTES": " 2048 "}
    limits = StorageLimits.from_environment(environ, max_unpacked_bytes=4096)

    assert limits == StorageLimits(max_download_bytes=1_000_000, max_unpacked_bytes=4096)
    assert limits.max_archive_members == DEFAULT_MAX_ARCHIVE_MEMBERS
    assert StorageLimits.from_environment(environ).max_unpacked_bytes == 2048
    assert StorageLimits.from_environment({}).max_download_bytes == DEFAULT_MAX_DOWNLOAD_BYTES
    assert StorageLimits.from_environment({"DECENTRALML_MAX_ARCHIVE_MEMBERS": ""}) == StorageLimits()


@pytest.mark.parametrize("value", ["٥", "-1", "0", "lots", "1e9", "4 GiB"])
def test_a_malformed_storage_limit_is_a_config_error_naming_its_variable(value):
    from substrate_client.storage.limits import StorageLimits

    with pytest.raises(ConfigError, match="DECENTRALML_MAX_ARCHIVE_MEMBERS"):
        StorageLimits.from_environment({"DECENTRALML_MAX_ARCHIVE_MEMBERS": value})
    with pytest.raises(TypeError, match="max_files"):
        StorageLimits.from_environment({}, max_files=3)


def test_the_library_reads_the_environment_through_config_without_the_file(tmp_path, monkeypatch):
    from substrate_client import chain, storage

    monkeypatch.setenv("DECENTRALML_CONFIG", str(write(tmp_path / "config.toml", 'url = "ws://file:1"\n')))
    monkeypatch.setenv("DECENTRALML_LOCAL_STORE", str(tmp_path / "store"))
    monkeypatch.delenv("DECENTRALML_URL", raising=False)
    assert config.from_environment().url is None  # the file is the command line's, not the library's
    assert chain.chain_url() == DEFAULT_URL
    monkeypatch.setenv("DECENTRALML_URL", "ws://env:1")
    assert chain.chain_url() == "ws://env:1" and chain.chain_url("ws://given:1") == "ws://given:1"
    assert storage.backend_from_settings("local").root == tmp_path / "store"
    monkeypatch.setenv("DECENTRALML_SURI", "//Alice")
    assert config.signer_secret() == "//Alice"
    assert chain.load_keypair().ss58_address == chain.dev_address("alice")


def test_config_is_the_only_module_that_reads_decentralml_variables():
    package = Path(config.__file__).parent
    reads = re.compile(r"""(environ(\.get)?[(\[]|getenv\(|envvar=|setdefault\()\s*["']DECENTRALML_""")
    found = [f"{path.relative_to(package)}:{number}"
             for path in sorted(package.rglob("*.py")) if path.name != "config.py"
             for number, line in enumerate(path.read_text().splitlines(), 1) if reads.search(line)]
    assert found == []
    tables = [config.ENVIRONMENT, config.LIMITS_ENVIRONMENT, config.SANDBOX_ENVIRONMENT,
              config.LOCAL_ENVIRONMENT, {"suri": config.SIGNER_VARIABLE}]
    named = [variable for table in tables for variable in table.values()]
    assert len(named) == len(set(named))  # each variable has one meaning
