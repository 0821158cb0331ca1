"""Building a backend from a storage type name, flags and the environment.

Explicit settings win; then ``DECENTRALML_IPFS_API``, ``DECENTRALML_S3_ENDPOINT``,
``DECENTRALML_S3_BUCKET`` and ``DECENTRALML_LOCAL_STORE`` (read by
:func:`substrate_client.config.from_environment`); then the defaults, which
match what ``scripts/storage.sh up`` starts. S3 credentials are boto3's business
(``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY`` / ``AWS_PROFILE``) and never a setting.

The size limits on what comes from the other side live in :mod:`.limits`.
"""

from __future__ import annotations

from pathlib import Path

from .. import config
from ..errors import UserInputError
from .base import StorageBackend

DEFAULT_LOCAL_STORE = "~/.cache/decentralml/store"
DEFAULT_S3_BUCKET = "decentralml"

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
    env = config.from_environment()
    if kind == "IPFS":
        from .ipfs import DEFAULT_API_URL, IpfsStorage

        given.setdefault("api_url", env.ipfs_api or DEFAULT_API_URL)
        return IpfsStorage(**given)
    if kind == "S3":
        from .s3 import S3Storage

        given.setdefault("bucket", env.s3_bucket or DEFAULT_S3_BUCKET)
        given.setdefault("endpoint_url", env.s3_endpoint or None)
        return S3Storage(**given)
    from .local import LocalStorage

    root = given.get("root") or env.local_store or DEFAULT_LOCAL_STORE
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
