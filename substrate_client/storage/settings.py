"""Building a backend from a storage type name, flags and the environment.

Explicit settings win; then ``DECENTRALML_IPFS_API``, ``DECENTRALML_S3_ENDPOINT``,
``DECENTRALML_S3_BUCKET`` and ``DECENTRALML_LOCAL_STORE``; then the defaults, which
match what ``scripts/storage.sh up`` starts. S3 credentials are boto3's business
(``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY`` / ``AWS_PROFILE``) and never a setting.

The size limits on what comes from the other side (:class:`StorageLimits`) come from
the value given, then ``DECENTRALML_MAX_DOWNLOAD_BYTES``, ``DECENTRALML_MAX_ARCHIVE_MEMBERS``
and ``DECENTRALML_MAX_UNPACKED_BYTES``, then the defaults below.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import ClassVar, Mapping

from ..errors import ConfigError, UserInputError
from .base import StorageBackend

DEFAULT_LOCAL_STORE = "~/.cache/decentralml/store"
DEFAULT_S3_BUCKET = "decentralml"

GiB = 1024**3
#: The most bytes one download may bring: a bundle or a result, sealed or not.
DEFAULT_MAX_DOWNLOAD_BYTES = 4 * GiB
#: The most files and folders one archive may unpack to.
DEFAULT_MAX_ARCHIVE_MEMBERS = 10_000
#: The most bytes one archive may unpack to, all files together.
DEFAULT_MAX_UNPACKED_BYTES = 4 * GiB


@dataclasses.dataclass(frozen=True)
class StorageLimits:
    """How much a download or an archive from the other side may hold.

    Every field is a whole number above zero; an object or archive beyond one is
    refused with :class:`~substrate_client.errors.LimitExceededError` naming the
    setting, its environment variable and its value.
    """

    max_download_bytes: int = DEFAULT_MAX_DOWNLOAD_BYTES
    max_archive_members: int = DEFAULT_MAX_ARCHIVE_MEMBERS
    max_unpacked_bytes: int = DEFAULT_MAX_UNPACKED_BYTES

    #: Each limit and the environment variable it is read from.
    ENVIRONMENT: ClassVar[dict[str, str]] = {
        "max_download_bytes": "DECENTRALML_MAX_DOWNLOAD_BYTES",
        "max_archive_members": "DECENTRALML_MAX_ARCHIVE_MEMBERS",
        "max_unpacked_bytes": "DECENTRALML_MAX_UNPACKED_BYTES",
    }

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            check_limit(getattr(self, field.name), field.name)

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None, **given: int | None
                         ) -> "StorageLimits":
        """The limits: each from ``given`` (if not None), then ``environ`` (default
        ``os.environ``), then the defaults. A malformed variable is a ConfigError naming it."""
        environ = os.environ if environ is None else environ
        unknown = set(given) - set(cls.ENVIRONMENT)
        if unknown:
            raise TypeError(f"unknown limits {', '.join(sorted(unknown))}")
        values = {}
        for name, variable in cls.ENVIRONMENT.items():
            if given.get(name) is not None:
                values[name] = given[name]
            elif environ.get(variable, "").strip():
                text = environ[variable].strip().replace("_", "")
                if not (text.isascii() and text.isdigit()) or int(text) <= 0:
                    raise ConfigError(f"{variable} must be a whole number of "
                                      f"{'members' if 'members' in name else 'bytes'} above zero, "
                                      f"not {environ[variable]!r}")
                values[name] = int(text)
        return cls(**values)

    def exceeded(self, name: str, what: str) -> str:
        """The end of an error message: ``what`` is beyond the limit ``name``."""
        return (f"{what} is more than {name} = {getattr(self, name)} allows "
                f"(raise it with {self.ENVIRONMENT[name]} if you trust the source)")


def check_limit(value, name: str) -> int:
    """``value`` if it is a whole number above zero (not a bool), else UserInputError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise UserInputError(f"{name} must be a whole number above zero, not {value!r}")
    return value

#: The pallet's StorageType variants this client can use, and the settings each takes.
_SETTINGS = {
    "IPFS": {"api_url", "timeout"},
    "S3": {"bucket", "endpoint_url", "prefix", "region"},
    "Local": {"root"},
}


def backend_from_settings(storage_type: str, **settings) -> StorageBackend:
    """The backend for ``storage_type`` (``"IPFS"``, ``"S3"`` or ``"Local"``, any case).

    Settings left out or ``None`` come from the environment, then the defaults:
    IPFS ``api_url``; S3 ``bucket``, ``endpoint_url``, ``prefix``, ``region``;
    Local ``root``.
    """
    kind = _canonical(storage_type)
    given = {k: v for k, v in settings.items() if v is not None}
    unknown = set(given) - _SETTINGS[kind]
    if unknown:
        raise UserInputError(
            f"{kind} storage does not take {', '.join(sorted(unknown))}; "
            f"it takes {', '.join(sorted(_SETTINGS[kind]))}"
        )
    env = os.environ
    if kind == "IPFS":
        from .ipfs import DEFAULT_API_URL, IpfsStorage

        given.setdefault("api_url", env.get("DECENTRALML_IPFS_API") or DEFAULT_API_URL)
        return IpfsStorage(**given)
    if kind == "S3":
        from .s3 import S3Storage

        given.setdefault("bucket", env.get("DECENTRALML_S3_BUCKET") or DEFAULT_S3_BUCKET)
        given.setdefault("endpoint_url", env.get("DECENTRALML_S3_ENDPOINT") or None)
        return S3Storage(**given)
    from .local import LocalStorage

    root = given.get("root") or env.get("DECENTRALML_LOCAL_STORE") or DEFAULT_LOCAL_STORE
    return LocalStorage(Path(root).expanduser())


def settings_for(storage_type: str, settings: dict) -> dict:
    """The subset of a mixed bag of settings (e.g. every storage flag of the CLI)
    that ``storage_type``'s backend takes."""
    return {k: v for k, v in settings.items() if k in _SETTINGS[_canonical(storage_type)]}


def _canonical(storage_type: str) -> str:
    for kind in _SETTINGS:
        if str(storage_type).lower() == kind.lower():
            return kind
    raise UserInputError(
        f"unknown storage type {storage_type!r}: this client stores to {', '.join(_SETTINGS)}"
    )
