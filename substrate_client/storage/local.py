"""A directory as a content-addressed store: for one machine, a shared file system, and demos."""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path
from typing import Iterator

from ..errors import StorageError, UserInputError
from .base import (CHUNK_SIZE, Progress, SizeLimitReached, StorageBackend, StoredObject, check_hash,
                   copy_stream, temporary_file_beside)

log = logging.getLogger(__name__)


class LocalStorage(StorageBackend):
    """Objects are files named by their sha256 hex under ``root``."""

    storage_type = "Local"

    def __init__(self, root: Path):
        self.root = Path(root).expanduser()

    def __repr__(self) -> str:
        return f"LocalStorage({str(self.root)!r})"

    def put_file(
        self,
        local_path: Path,
        progress: Progress | None = None,
        content_hash: bytes | None = None,
    ) -> StoredObject:
        # The copy is hashed anyway (it names the object); a given content_hash is checked against it.
        local_path = Path(local_path)
        if content_hash is not None:
            content_hash = check_hash(content_hash)
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise StorageError(f"cannot create the local store at {self.root}: {e}") from e
        digest = hashlib.sha256()
        try:
            src = open(local_path, "rb")
        except OSError as e:
            raise UserInputError(f"cannot read {local_path}: {e}") from e
        with src, temporary_file_beside(self.root / "object") as tmp:
            with open(tmp, "wb") as out:
                size = copy_stream(src, out, progress, digest)
            if content_hash is not None and digest.digest() != content_hash:
                raise StorageError(
                    f"{local_path} changed after it was hashed: expected sha256 {content_hash.hex()}, "
                    f"copied {digest.hexdigest()}"
                )
            name = digest.hexdigest()
            os.chmod(tmp, 0o644)
            os.replace(tmp, self.root / name)
        log.debug("stored %s in %s as %s", local_path, self.root, name)
        return StoredObject(self.storage_type, name, digest.digest(), size)

    def exists(self, path: str) -> bool:
        return self._resolve(path).is_file()

    def _chunks(self, path: str, max_bytes: int) -> Iterator[bytes]:
        source = self._resolve(path)
        try:
            src = open(source, "rb")
        except FileNotFoundError:
            raise StorageError(f"no object {path!r} in the local store {self.root}") from None
        with src:
            size = os.fstat(src.fileno()).st_size
            if size > max_bytes:
                raise SizeLimitReached(size)
            while chunk := src.read(CHUNK_SIZE):  # the stream stops it should the file grow meanwhile
                yield chunk

    def _resolve(self, path: str) -> Path:
        """The file for ``path``, which must lie inside the store root."""
        root = self.root.resolve()
        target = (root / path).resolve()
        if not path or os.path.isabs(path) or not target.is_relative_to(root) or target == root:
            raise UserInputError(f"{path!r} is not a path inside the local store {self.root}")
        return target
