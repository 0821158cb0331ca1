"""The storage interface every backend implements, and the helpers they share.

A backend stores a file and hands back a :class:`StoredObject`: where the bytes
are, their sha256 and their size. Whoever fetches the object later names that hash
(and the size, when it is recorded): :meth:`StorageBackend.open_object` gives its
bytes as a stream, hashed and counted as they pass, that stops as soon as it passes
its limit and says at the end whether the bytes were the recorded ones;
:meth:`StorageBackend.get_file` puts them in a file only when they were.
"""

from __future__ import annotations

import abc
import contextlib
import hashlib
import logging
import os
import queue
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Callable, ClassVar, Iterable, Iterator

from ..errors import IntegrityError, LimitExceededError, UserInputError
from ..files import temporary_file_beside  # noqa: F401  (the backends import it from here)
from .limits import StorageLimits, check_limit

log = logging.getLogger(__name__)

#: Called with the number of bytes just moved (an increment, like ``tqdm.update``).
Progress = Callable[[int], None]

#: Read and write in pieces of this size: the most a backend holds in memory per stream.
CHUNK_SIZE = 1024 * 1024

#: How many chunks a download may fetch ahead of what its reader has taken.
PREFETCH_CHUNKS = 8


@dataclass(frozen=True)
class StoredObject:
    """Where an object is stored, and what it must hash to.

    ``storage_type`` is the pallet's ``StorageType`` variant name (``"IPFS"``,
    ``"S3"`` or ``"Local"``); ``path`` is the CID for IPFS, ``bucket/key`` for
    S3 and the path below the store root for Local; ``content_hash`` is the
    32-byte sha256 of the stored bytes and ``size`` their length.
    """

    storage_type: str
    path: str
    content_hash: bytes
    size: int


class StorageBackend(abc.ABC):
    """Stores files and fetches them back, checking their sha256."""

    #: The pallet's ``StorageType`` variant name.
    storage_type: ClassVar[str]

    #: Whether :meth:`put_stream` can store bytes that never touch the disk.
    streams_uploads: ClassVar[bool] = False

    @abc.abstractmethod
    def put_file(
        self,
        local_path: Path,
        progress: Progress | None = None,
        content_hash: bytes | None = None,
    ) -> StoredObject:
        """Store the file at ``local_path``, streaming it, and say where it went.

        ``content_hash``, if given, is the file's sha256 as its writer computed
        it (e.g. :func:`~substrate_client.storage.pack_folder`'s result); a
        backend then need not read the file twice. Backends check cheaply that
        the file did not change while it was being sent (StorageError).
        """

    def put_stream(self, chunks: Iterable[bytes], progress: Progress | None = None) -> str:
        """Store the bytes ``chunks`` yields, in order, without a file; return the object's path.

        Only for backends with ``streams_uploads``. ``chunks`` hashes what it yields
        (like :class:`~substrate_client.storage.bundle.FolderTar`: ``digest``,
        ``size`` and ``complete`` once read), so the object's sha256 is known only once
        it is stored: no backend may name the object by it. Should the stream raise, or
        the store fail, before the end, no object is left (on IPFS, nothing is pinned).
        The caller checks the stream was all consumed.
        """
        raise NotImplementedError(f"{self.storage_type} storage cannot store a stream")

    @contextlib.contextmanager
    def open_object(
        self,
        path: str,
        expected_hash: bytes,
        progress: Progress | None = None,
        *,
        max_bytes: int | None = None,
        expected_size: int | None = None,
    ) -> Iterator["ObjectStream"]:
        """The bytes of the object at ``path`` as an :class:`ObjectStream`, to read once.

        At most ``max_bytes`` are fetched (default: the ``max_download_bytes`` setting,
        see :class:`~substrate_client.storage.limits.StorageLimits`); with
        ``expected_size`` (the size recorded on-chain), the object must have exactly
        that many bytes. Reading past the limit raises (:class:`LimitExceededError` for
        ``max_bytes``, :class:`IntegrityError` for ``expected_size``) and fetching stops
        there. Nothing read is known good until :meth:`ObjectStream.verify` returned:
        the caller keeps what it made of the bytes only then.
        """
        expected_hash = check_hash(expected_hash)
        cap = self._download_cap(path, max_bytes, expected_size)
        stream = ObjectStream(
            self._chunks(path, cap.limit), f"{self.storage_type} object {path!r}", cap,
            expected_hash, expected_size, progress,
        )
        try:
            yield stream
        finally:
            stream.close()

    def get_file(
        self,
        path: str,
        dest: Path,
        expected_hash: bytes,
        progress: Progress | None = None,
        *,
        max_bytes: int | None = None,
        expected_size: int | None = None,
    ) -> Path:
        """Fetch the object at ``path`` into ``dest`` if its sha256 is ``expected_hash``.

        The limits are :meth:`open_object`'s; a shorter object than ``expected_size``
        or a wrong hash raise IntegrityError naming both values. The bytes go to a
        temporary file beside ``dest``, renamed into place only when every check
        passed and deleted otherwise. Returns ``dest``.
        """
        dest = Path(dest)
        with self.open_object(path, expected_hash, progress, max_bytes=max_bytes,
                              expected_size=expected_size) as stream:
            dest.parent.mkdir(parents=True, exist_ok=True)
            stream.save(dest)
        log.debug("fetched %s object %s into %s", self.storage_type, path, dest)
        return dest

    def _download_cap(self, path: str, max_bytes: int | None, expected_size: int | None) -> "_Cap":
        if max_bytes is None:
            max_bytes = StorageLimits.from_environment().max_download_bytes
            setting = (f"max_bytes = {max_bytes} (the max_download_bytes setting; "
                       "raise it with DECENTRALML_MAX_DOWNLOAD_BYTES if you trust the source)")
        else:
            setting = f"max_bytes = {check_limit(max_bytes, 'max_bytes')}"
        what = f"{self.storage_type} object {path!r}"
        if expected_size is None:
            return _Cap(max_bytes, lambda size: LimitExceededError(
                f"{what} is {_sized(size)}larger than {setting}; fetching stopped at the limit"))
        if isinstance(expected_size, bool) or not isinstance(expected_size, int) or expected_size < 0:
            raise UserInputError(f"expected_size must be a whole number of bytes, not {expected_size!r}")
        if expected_size > max_bytes:
            raise LimitExceededError(f"{what} is {expected_size} bytes by its record, more than {setting}")
        return _Cap(expected_size, lambda size: IntegrityError(
            f"{what} is {_sized(size)}more than the {expected_size} bytes recorded for it; "
            "fetching stopped there"))

    @abc.abstractmethod
    def exists(self, path: str) -> bool:
        """Whether the object at ``path`` can be fetched from this backend."""

    @abc.abstractmethod
    def _chunks(self, path: str, max_bytes: int) -> Iterator[bytes]:
        """Yield the object's bytes in order, in pieces of at most about ``CHUNK_SIZE``.

        A backend that can tell the object's size first raises :class:`SizeLimitReached`
        before fetching one larger than ``max_bytes``; otherwise the stream reading it
        stops at the limit. Closing the generator ends the transfer.
        """


@dataclass(frozen=True)
class _Cap:
    """The most bytes a download may bring, and the error for passing it."""

    limit: int
    error: Callable[[int | None], Exception]


class SizeLimitReached(Exception):
    """A download passed its size limit; ``size`` is the object's size when the backend
    could tell it, else None."""

    def __init__(self, size: int | None = None):
        super().__init__(size)
        self.size = size


def _sized(size: int | None) -> str:
    return "" if size is None else f"{size} bytes, "


@dataclass(frozen=True)
class _End:
    digest: bytes
    size: int


class ObjectStream:
    """A stored object's bytes, read once and in order, hashed and counted as they pass.

    A thread fetches the object (at most ``PREFETCH_CHUNKS`` chunks ahead of the
    reader), hashes it and stops it at its limit, so the network, the hash and the
    reader's own work (writing files) overlap. :meth:`read_chunk` hands the chunks
    on; :meth:`verify` reads what is left and raises IntegrityError unless the whole
    object had the expected size and sha256. Use it through
    :meth:`StorageBackend.open_object`, which closes it.
    """

    def __init__(self, chunks: Iterator[bytes], what: str, cap: _Cap, expected_hash: bytes,
                 expected_size: int | None, progress: Progress | None):
        self.what = what
        self._cap = cap
        self._expected_hash = expected_hash
        self._expected_size = expected_size
        self._progress = progress
        self._queue: queue.Queue = queue.Queue(PREFETCH_CHUNKS)
        self._stop = threading.Event()
        self._pending = b""  # taken from the queue by peek, not yet read
        self._end: _End | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._fetch, args=(chunks,), daemon=True,
                                        name="decentralml-download")
        self._thread.start()

    def _fetch(self, chunks: Iterator[bytes]) -> None:
        """The fetching thread: everything it gets, or the error that stopped it, goes to the queue."""
        digest = hashlib.sha256()
        size = 0
        try:
            for chunk in chunks:
                size += len(chunk)
                if size > self._cap.limit:
                    raise SizeLimitReached()  # nothing past the limit is handed on
                digest.update(chunk)
                if not self._put(chunk):
                    return  # the reader gave up
            self._put(_End(digest.digest(), size))
        except SizeLimitReached as reached:
            self._put(self._cap.error(reached.size))
        except BaseException as error:  # noqa: BLE001 - handed to the reader, raised there
            self._put(error)
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()

    def _put(self, item) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def read_chunk(self) -> bytes:
        """The next piece of the object (within the limit, not yet checked against the
        hash), or ``b""`` at its end."""
        chunk, self._pending = (self._pending, b"") if self._pending else (self._fetched(), b"")
        if chunk and self._progress:
            self._progress(len(chunk))
        return chunk

    def peek(self, n: int) -> bytes:
        """The first ``n`` bytes still to be read (fewer at the end), without taking them."""
        while len(self._pending) < n and (chunk := self._fetched()):
            self._pending += chunk
        return self._pending[:n]

    def _fetched(self) -> bytes:
        if self._error is not None:
            raise self._error
        if self._end is not None:
            return b""
        item = self._queue.get()
        if isinstance(item, _End):
            self._end = item
            return b""
        if isinstance(item, BaseException):
            self._error = item
            self._stop.set()
            raise item
        return item

    def verify(self) -> None:
        """Read the rest of the object; IntegrityError unless it had the expected size and sha256."""
        while self.read_chunk():
            pass
        end = self._end
        if self._expected_size is not None and end.size != self._expected_size:
            raise IntegrityError(f"{self.what} is {end.size} bytes, not the {self._expected_size} "
                                 "bytes recorded for it")
        if end.digest != self._expected_hash:
            raise IntegrityError(f"{self.what} does not match its recorded hash: expected sha256 "
                                 f"{self._expected_hash.hex()}, got {end.digest.hex()}")

    def save(self, dest: Path) -> Path:
        """Write the rest of the object to the file ``dest`` and :meth:`verify` it: ``dest``
        appears only if it passed (a temporary file beside it otherwise is deleted)."""
        with temporary_file_beside(dest) as tmp:
            with open(tmp, "wb") as out:
                while chunk := self.read_chunk():
                    out.write(chunk)
            self.verify()
            os.replace(tmp, dest)
        return dest

    def close(self) -> None:
        """Stop fetching (if it has not ended) and wait for the fetching thread."""
        self._stop.set()
        with contextlib.suppress(queue.Empty):
            while True:
                self._queue.get_nowait()
        self._thread.join()


def same_file_state(before: os.stat_result, after: os.stat_result) -> bool:
    """Whether two stats of one path show the same unchanged file (inode, size, mtime, and
    ctime, which no one can set back)."""
    return _state(before) == _state(after)


def _state(st: os.stat_result) -> tuple[int, int, int, int]:
    return st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns


def check_hash(content_hash: bytes) -> bytes:
    """Return ``content_hash`` as bytes if it is a 32-byte sha256, else raise UserInputError."""
    if isinstance(content_hash, str):
        try:
            content_hash = bytes.fromhex(content_hash.removeprefix("0x"))
        except ValueError:
            raise UserInputError(f"not a hex sha256: {content_hash!r}") from None
    content_hash = bytes(content_hash)
    if len(content_hash) != 32:
        raise UserInputError(f"a sha256 is 32 bytes, got {len(content_hash)}")
    return content_hash


def sha256_file(path: Path) -> tuple[bytes, int]:
    """The sha256 and size of a file, read in chunks."""
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK_SIZE):
            digest.update(chunk)
            size += len(chunk)
    return digest.digest(), size


def copy_stream(src: BinaryIO, dst: BinaryIO, progress: Progress | None = None, digest=None) -> int:
    """Copy ``src`` to ``dst`` in chunks, reporting progress and feeding ``digest``."""
    total = 0
    while chunk := src.read(CHUNK_SIZE):
        dst.write(chunk)
        if digest is not None:
            digest.update(chunk)
        total += len(chunk)
        if progress:
            progress(len(chunk))
    return total
