"""Where task bundles and results live: IPFS, S3 or a local directory, behind one interface.

>>> backend = backend_from_settings("IPFS")
>>> obj = upload_folder(backend, Path("my_task"))
>>> download_folder(backend, obj.path, obj.content_hash, Path("fetched_task"),
...                 expected_size=obj.size)

Every download is checked against the sha256 (and the size) recorded when the
object was stored, stops as soon as it passes its size limit, and unpacks only
within :class:`StorageLimits`; nothing that fails a check is ever left where the
caller asked for it. Storage knows nothing of the chain.
"""

from .base import Progress, StorageBackend, StoredObject
from .bundle import download_folder, pack_folder, unpack_archive, upload_folder
from .ipfs import IpfsStorage
from .local import LocalStorage
from .s3 import S3Storage
from .limits import StorageLimits
from .settings import backend_from_settings, settings_for

__all__ = [
    "IpfsStorage",
    "LocalStorage",
    "Progress",
    "S3Storage",
    "StorageBackend",
    "StorageLimits",
    "StoredObject",
    "backend_from_settings",
    "settings_for",
    "download_folder",
    "pack_folder",
    "unpack_archive",
    "upload_folder",
]
