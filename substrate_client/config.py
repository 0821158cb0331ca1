"""Where the client finds the chain, the signer's key file and the storage services.

Each setting comes from the value given (a command-line flag, say), then the
environment, then the config file: ``DECENTRALML_CONFIG``, else
``$XDG_CONFIG_HOME/decentralml/config.toml`` (``~/.config`` by default)::

    from substrate_client import config
    from substrate_client.marketplace import Marketplace

    s = config.resolve({"url": "ws://127.0.0.1:9944"})   # given values win
    market = Marketplace.connect(s.url, key_file=s.key_file, **s.storage_settings())

The signer's secret is never a setting: it comes from ``DECENTRALML_SURI`` or the
key file only (see :func:`substrate_client.chain.load_keypair`).

This module is the one reader of the ``DECENTRALML_*`` variables; each table below
names the variables of one part (the client's settings, the signer, storage limits,
the sandbox's limits, the local services). The command line reads the sandbox's
through click options (``envvar=``), named from :data:`SANDBOX_ENVIRONMENT`. The
variables a bundle is given (``DECENTRALML_TASK_ID``...) are the bundle's, listed in
:data:`substrate_client.sandbox.BUNDLE_ENVIRONMENT`.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from pathlib import Path
from typing import Mapping

from .errors import ConfigError

log = logging.getLogger(__name__)

#: The node the client talks to when none is named: the local dev chain.
DEFAULT_URL = "ws://127.0.0.1:9944"

#: Each setting and the environment variable it is read from.
ENVIRONMENT = {
    "url": "DECENTRALML_URL",
    "key_file": "DECENTRALML_KEY_FILE",
    "ipfs_api": "DECENTRALML_IPFS_API",
    "s3_endpoint": "DECENTRALML_S3_ENDPOINT",
    "s3_bucket": "DECENTRALML_S3_BUCKET",
    "local_store": "DECENTRALML_LOCAL_STORE",
}
#: The settings a config file may hold (the key file is named by a flag or the environment only).
CONFIG_KEYS = ("url", "ipfs_api", "s3_endpoint", "s3_bucket", "local_store")
#: Settings that are paths: a child process is given them absolute.
_PATHS = ("key_file", "local_store")
#: The signer's secret URI or mnemonic: never a setting, never in a file.
SIGNER_VARIABLE = "DECENTRALML_SURI"
#: Storage's limits on what comes from the other side
#: (:class:`substrate_client.storage.StorageLimits`) and the variable each is read from.
LIMITS_ENVIRONMENT = {
    "max_download_bytes": "DECENTRALML_MAX_DOWNLOAD_BYTES",
    "max_archive_members": "DECENTRALML_MAX_ARCHIVE_MEMBERS",
    "max_unpacked_bytes": "DECENTRALML_MAX_UNPACKED_BYTES",
}
#: How the client waits for a block to be final (:class:`substrate_client.chain_finality.
#: FinalitySettings`, seconds) and the variable each is read from.
FINALITY_ENVIRONMENT = {
    "stall_seconds": "DECENTRALML_FINALITY_STALL_SECONDS",
    "timeout": "DECENTRALML_FINALITY_TIMEOUT",
}
#: The options of running a bundle that the command line also takes from the environment.
SANDBOX_ENVIRONMENT = {
    "python": "DECENTRALML_BUNDLE_PYTHON",
    "cpu_seconds": "DECENTRALML_SANDBOX_CPU_SECONDS",
    "memory": "DECENTRALML_SANDBOX_MEMORY",
    "timeout": "DECENTRALML_SANDBOX_TIMEOUT",
}


@dataclasses.dataclass
class Settings:
    """Where to find the chain, the signer's key file and the storage services.

    ``None`` means not set anywhere: the library's default applies (``url``: the local
    dev chain, :data:`substrate_client.chain.DEFAULT_URL`; storage: see
    :mod:`substrate_client.storage.settings`).
    """

    url: str | None = None
    key_file: str | None = None
    ipfs_api: str | None = None
    s3_endpoint: str | None = None
    s3_bucket: str | None = None
    local_store: str | None = None

    def storage_settings(self) -> dict[str, str]:
        """The keyword arguments ``Marketplace.connect`` passes to the storage backends."""
        given = {"api_url": self.ipfs_api, "endpoint_url": self.s3_endpoint,
                 "bucket": self.s3_bucket, "root": self.local_store}
        return {k: v for k, v in given.items() if v}

    def environment(self) -> dict[str, str]:
        """These settings as environment variables, for a child process (no secrets)."""
        env = {ENVIRONMENT["url"]: self.url or DEFAULT_URL}
        for name, variable in ENVIRONMENT.items():
            value = getattr(self, name)
            if name != "url" and value:
                env[variable] = str(Path(value).expanduser().resolve()) if name in _PATHS else value
        return env


def read_environment(variables: Mapping[str, str], environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The values ``environ`` (default ``os.environ``) gives the ``variables`` (setting ->
    variable name), by setting; variables unset or empty are left out."""
    environ = os.environ if environ is None else environ
    return {name: environ[variable] for name, variable in variables.items() if environ.get(variable)}


def from_environment(environ: Mapping[str, str] | None = None) -> Settings:
    """The settings the environment gives, without the config file: what the library uses
    for a setting it is not given (a storage backend, ``Marketplace.connect()``)."""
    return Settings(**read_environment(ENVIRONMENT, environ))


def signer_secret(environ: Mapping[str, str] | None = None) -> str | None:
    """The signer's secret from :data:`SIGNER_VARIABLE`, if set (see
    :func:`substrate_client.chain.load_keypair`; never logged)."""
    return read_environment({"suri": SIGNER_VARIABLE}, environ).get("suri")


def config_path(environ: Mapping[str, str] | None = None) -> Path:
    """``DECENTRALML_CONFIG``, else ``$XDG_CONFIG_HOME/decentralml/config.toml`` (``~/.config``)."""
    environ = os.environ if environ is None else environ
    override = environ.get("DECENTRALML_CONFIG")
    if override:
        return Path(override).expanduser()
    base = environ.get("XDG_CONFIG_HOME") or "~/.config"
    return Path(base).expanduser() / "decentralml" / "config.toml"


def state_dir(environ: Mapping[str, str] | None = None) -> Path:
    """Where the client keeps what it must remember between runs (e.g. a result's upload
    and commitment salt until it is revealed): ``DECENTRALML_STATE_DIR``, else
    ``$XDG_STATE_HOME/decentralml`` (``~/.local/state`` by default)."""
    environ = os.environ if environ is None else environ
    override = environ.get("DECENTRALML_STATE_DIR")
    if override:
        return Path(override).expanduser()
    base = environ.get("XDG_STATE_HOME") or "~/.local/state"
    return Path(base).expanduser() / "decentralml"


def read_config_file(path: Path) -> dict[str, str]:
    """The settings in the TOML file at ``path`` (empty if there is none)."""
    import tomllib

    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except FileNotFoundError:
        return {}
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise ConfigError(f"cannot read the config file {path}: {error}") from None
    unknown = sorted(set(data) - set(CONFIG_KEYS))
    if unknown:
        log.warning("config file %s: ignoring unknown keys %s (known: %s)",
                    path, ", ".join(unknown), ", ".join(CONFIG_KEYS))
    for key in CONFIG_KEYS:
        if key in data and not isinstance(data[key], str):
            raise ConfigError(f"config file {path}: {key} must be a string")
    return {k: data[k] for k in CONFIG_KEYS if data.get(k)}


def resolve(given: Mapping[str, str | None] | None = None, *,
            environ: Mapping[str, str] | None = None, path: Path | None = None) -> Settings:
    """The settings: each from ``given``, then ``environ`` (default ``os.environ``), then
    the config file at ``path`` (default :func:`config_path`). Empty values count as unset.

    Raises :class:`ConfigError` for a config file that cannot be read.
    """
    given = dict(given or {})
    unknown = sorted(set(given) - set(ENVIRONMENT))
    if unknown:
        raise TypeError(f"unknown settings {', '.join(unknown)}; known: {', '.join(ENVIRONMENT)}")
    in_environment = read_environment(ENVIRONMENT, environ)
    in_file = read_config_file(path if path is not None else config_path(environ))
    return Settings(**{name: given.get(name) or in_environment.get(name) or in_file.get(name) or None
                       for name in ENVIRONMENT})


# --------------------------------------------------------------------------- local services


#: The local services' settings (:class:`LocalSettings`) and the variable each is read from.
LOCAL_ENVIRONMENT = {
    "cache_dir": "DECENTRALML_CACHE",
    "run_dir": "DECENTRALML_RUN_DIR",
    "node_dir": "DECENTRALML_NODE_DIR",
    "chain_spec": "DECENTRALML_CHAIN_SPEC",
    "devnet_port": "DECENTRALML_PORT",
    "ipfs_port": "DECENTRALML_IPFS_PORT",
    "ipfs_gateway_port": "DECENTRALML_IPFS_GATEWAY_PORT",
    "s3_port": "DECENTRALML_S3_PORT",
    "s3_console_port": "DECENTRALML_S3_CONSOLE_PORT",
    "storage_timeout": "DECENTRALML_STORAGE_TIMEOUT",
    "round_epochs": "DECENTRALML_ROUND_EPOCHS",
}


@dataclasses.dataclass(frozen=True)
class LocalSettings:
    """The services a developer runs on this machine: the dev chain (Chopsticks), Kubo and
    MinIO, and the main job (:mod:`substrate_client.demo`) that drives them.

    The install keeps the tools in ``cache_dir`` (``node/``: Chopsticks and Node 22,
    ``go/bin/``: Kubo and MinIO); the services started keep their pid files, logs and data
    in ``run_dir``. Ports are on 127.0.0.1.
    """

    cache_dir: Path
    run_dir: Path
    node_dir: Path
    #: A raw chain spec to run instead of the one shipped in the package.
    chain_spec: Path | None = None
    devnet_port: int = 9944
    ipfs_port: int = 5001
    ipfs_gateway_port: int = 8180
    s3_port: int = 9000
    s3_console_port: int = 9001
    #: Seconds to wait for a storage daemon to answer after starting it.
    storage_timeout: float = 60.0
    #: Training epochs of the main job when none are asked for.
    round_epochs: int = 1


def local_settings(environ: Mapping[str, str] | None = None) -> LocalSettings:
    """The :class:`LocalSettings`: each from its variable in :data:`LOCAL_ENVIRONMENT`
    (``environ``, default ``os.environ``), else its default. Raises :class:`ConfigError`
    naming a variable whose value is not a number where one is needed."""
    environ = os.environ if environ is None else environ
    values = {name: environ.get(variable) for name, variable in LOCAL_ENVIRONMENT.items()}
    cache = Path(values.pop("cache_dir") or "~/.cache/decentralml").expanduser()
    settings = {"cache_dir": cache,
                "run_dir": Path(values.pop("run_dir") or cache / "run").expanduser(),
                "node_dir": Path(values.pop("node_dir") or cache / "node").expanduser()}
    spec = values.pop("chain_spec")
    settings["chain_spec"] = Path(spec).expanduser() if spec else None
    defaults = {f.name: f.default for f in dataclasses.fields(LocalSettings)}
    for name, text in values.items():
        if not text:
            continue
        kind = type(defaults[name])
        try:
            settings[name] = kind(text)
        except ValueError:
            raise ConfigError(f"{LOCAL_ENVIRONMENT[name]} must be a "
                              f"{'whole number' if kind is int else 'number'}, not {text!r}") from None
    return LocalSettings(**settings)
