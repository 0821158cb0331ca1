"""Where task bundles and results live: IPFS, S3 or a local directory, behind one interface.

>>> backend = backend_from_settings("IPFS")
>>> obj = upload_folder(backend, Path("my_task"))
>>> download_folder(backend, obj.path, obj.content_hash, Path("fetched_task"))

Every download is checked against the sha256 recorded when the object was
stored; nothing that fails the check is ever left where the caller asked for it.
Storage knows nothing of the chain.
"""

from .base import Progress, StorageBackend, StoredObject
from .bundle import download_folder, pack_folder, unpack_archive, upload_folder
from .ipfs import IpfsStorage
from .local import LocalStorage
from .s3 import S3Storage
from .settings import backend_from_settings, settings_for

__all__ = [
    "IpfsStorage",
    "LocalStorage",
    "Progress",
    "S3Storage",
    "StorageBackend",
    "StoredObject",
    "backend_from_settings",
    "settings_for",
    "download_folder",
    "pack_folder",
    "unpack_archive",
    "upload_folder",
]
