"""Folders as single objects: deterministic packing, safe unpacking, upload and download.

A task bundle or a result is a folder. :func:`pack_folder` turns it into an
uncompressed tar whose bytes depend only on the files' names, contents and
executable bits, so the same folder always has the same sha256.
:func:`unpack_archive` extracts only plain files and directories below the
destination, and makes the destination appear only when all of it is there.
:func:`download_folder` unpacks a download as it arrives, hashing it on the way,
into a staging folder that becomes the destination only once the hash matched.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import shutil
import stat
import tarfile
import tempfile
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Callable, Iterator

from ..errors import IntegrityError, LimitExceededError, StorageError, UserInputError
from ..sealing import SEALED_PREFIX_BYTES, ResultBinding, is_sealed, looks_sealed, open_sealed_file, seal_file
from ..sealing import require_sealed as require_sealed_file
from .base import (CHUNK_SIZE, ObjectStream, Progress, StorageBackend, StoredObject, check_hash,
                   same_file_state, temporary_file_beside)
from .limits import StorageLimits

if TYPE_CHECKING:
    from substrateinterface import Keypair

log = logging.getLogger(__name__)

#: Directories never packed.
SKIPPED_DIRS = frozenset({"__pycache__"})

#: The longest member name, and part of one, an archive may hold (what Linux file systems take).
MAX_NAME_PART_BYTES = 255
MAX_NAME_BYTES = 2048

#: The most bytes an archive's extended header (a long name, PAX records) may take:
#: tarfile reads such a header into memory whole.
MAX_HEADER_BYTES = 1024 * 1024


def pack_folder(folder: Path, archive_path: Path) -> bytes:
    """Write ``folder`` as a deterministic tar to ``archive_path``; return its sha256.

    Entries are sorted; owner, group and mtime are zeroed; modes are 0o755 for
    directories and executables and 0o644 otherwise. ``__pycache__`` is left
    out. Symbolic links are never followed: one pointing outside ``folder`` is
    refused (UserInputError), one pointing inside is left out (its target is
    packed in its own right). Sockets, FIFOs and devices are refused.
    """
    archive_path = Path(archive_path)
    tar = FolderTar(folder)
    if archive_path.resolve().is_relative_to(tar.root):
        raise UserInputError(f"the archive {archive_path} must not be inside the folder it packs")
    archive_path.parent.mkdir(parents=True, exist_ok=True)
    with temporary_file_beside(archive_path) as tmp:
        with open(tmp, "wb") as out:
            for chunk in tar:
                out.write(chunk)
        os.replace(tmp, archive_path)
    log.debug("packed %s (%d entries) into %s", folder, len(tar.entries), archive_path)
    return tar.digest.digest()


class FolderTar:
    """The deterministic tar of a folder (see :func:`pack_folder`) as a stream of chunks.

    Iterating yields the archive's bytes, at most about ``CHUNK_SIZE`` at a
    time, hashing them on the way: once ``complete``, ``digest`` and ``size``
    are those of exactly the bytes yielded. The folder is walked (and checked)
    when the object is made; files are read as the stream is consumed.
    """

    def __init__(self, folder: Path):
        folder = Path(folder)
        if not folder.is_dir():
            raise UserInputError(f"{folder} is not a folder")
        self.root = folder.resolve()
        self.entries = _walk(self.root)
        self.digest = hashlib.sha256()
        self.size = 0
        self.complete = False

    def __iter__(self) -> Iterator[bytes]:
        if self.size:
            raise RuntimeError("a FolderTar can be read only once")
        for chunk in self._chunks():
            self.digest.update(chunk)
            self.size += len(chunk)
            yield chunk
        self.complete = True

    def _chunks(self) -> Iterator[bytes]:
        # What tarfile.open(mode="w", format=PAX_FORMAT, encoding="utf-8") and addfile()
        # write, byte for byte, but pulled rather than pushed, and in few large pieces.
        pending = bytearray()
        emitted = 0
        for relative, path, st in self.entries:
            info = tarfile.TarInfo(relative)
            info.mtime = 0
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            if stat.S_ISDIR(st.st_mode):
                info.type = tarfile.DIRTYPE
                info.mode = 0o755
                pending += info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")
                continue
            info.type = tarfile.REGTYPE
            info.mode = 0o755 if st.st_mode & stat.S_IXUSR else 0o644
            info.size = st.st_size
            pending += info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")
            with open(path, "rb") as f:
                self._check_unchanged(f, st, relative)
                left = st.st_size
                while left:
                    room = max(CHUNK_SIZE - len(pending), 0)
                    if room == 0:
                        emitted += len(pending)
                        yield bytes(pending)
                        pending.clear()
                        continue
                    data = f.read(min(room, left))
                    if not data:
                        raise StorageError(f"{relative} shrank while it was being packed")
                    pending += data
                    left -= len(data)
                self._check_unchanged(f, st, relative)
            remainder = st.st_size % tarfile.BLOCKSIZE
            if remainder:
                pending += tarfile.NUL * (tarfile.BLOCKSIZE - remainder)
            if len(pending) >= CHUNK_SIZE:
                emitted += len(pending)
                yield bytes(pending)
                pending.clear()
        pending += tarfile.NUL * (tarfile.BLOCKSIZE * 2)
        total = emitted + len(pending)
        remainder = total % tarfile.RECORDSIZE
        if remainder:
            pending += tarfile.NUL * (tarfile.RECORDSIZE - remainder)
        yield bytes(pending)

    @staticmethod
    def _check_unchanged(f, walked: os.stat_result, relative: str) -> None:
        """StorageError unless the open file is the one walked, as it was then (same inode,
        size, modification and change times): its tar header, written from the walk, must
        fit it, and the archive should be a snapshot of the folder, not a mix of versions."""
        if not same_file_state(walked, os.fstat(f.fileno())):
            raise StorageError(f"{relative} changed while it was being packed; pack the folder "
                               "once nothing writes to it")


def _walk(root: Path) -> list[tuple[str, Path, os.stat_result]]:
    """(name in the archive, path, lstat) for every entry below ``root``, sorted by name."""
    stack = [(root, "")]
    found = []
    while stack:
        directory, prefix = stack.pop()
        with os.scandir(directory) as it:
            for entry in it:
                relative = f"{prefix}{entry.name}"
                path = Path(entry.path)
                st = entry.stat(follow_symlinks=False)
                if stat.S_ISLNK(st.st_mode):
                    target = Path(os.path.realpath(path))  # never raises, even on loops
                    if not target.is_relative_to(root):
                        raise UserInputError(
                            f"{relative} is a symbolic link to {os.readlink(path)}, outside the "
                            "folder; copy the file in instead"
                        )
                    log.warning("leaving out symbolic link %s (bundles hold only plain files)", relative)
                elif stat.S_ISDIR(st.st_mode):
                    if entry.name in SKIPPED_DIRS:
                        continue
                    found.append((relative, path, st))
                    stack.append((path, relative + "/"))
                elif stat.S_ISREG(st.st_mode):
                    found.append((relative, path, st))
                else:
                    raise UserInputError(f"{relative} is not a regular file or folder; cannot pack it")
    found.sort(key=lambda item: item[0].encode("utf-8", "surrogateescape"))
    return found


def unpack_archive(archive_path: Path, dest: Path, limits: StorageLimits | None = None) -> Path:
    """Extract the tar at ``archive_path`` into the new folder ``dest``; return ``dest``.

    Only regular files and directories with relative names inside ``dest`` are
    accepted: absolute names, ``..``, links, devices, FIFOs and sparse files raise
    IntegrityError naming the member, and an archive with more members than
    ``limits.max_archive_members`` or more bytes than ``limits.max_unpacked_bytes``
    (default: :meth:`StorageLimits.from_environment`) raises LimitExceededError
    naming the setting; each member is checked before any of its bytes are written.
    Extraction goes to a staging folder beside ``dest``, renamed into place only
    when complete and deleted otherwise. ``dest`` must not exist (UserInputError).
    """
    archive_path = Path(archive_path)
    dest = _new_folder(dest, "unpack")
    limits = limits if limits is not None else StorageLimits.from_environment()
    with open(archive_path, "rb") as f:
        return _unpack(_TarSource(lambda: f.read(CHUNK_SIZE)), dest, limits, str(archive_path))


def _new_folder(dest: Path, doing: str) -> Path:
    dest = Path(dest)
    if dest.exists() or dest.is_symlink():
        raise UserInputError(f"{dest} already exists; {doing} into a new folder")
    dest.parent.mkdir(parents=True, exist_ok=True)
    return dest


def _unpack(source: "_TarSource", dest: Path, limits: StorageLimits, what: str,
            before_rename: Callable[[], None] | None = None) -> Path:
    """Extract the tar ``source`` reads into a staging folder beside ``dest``; call
    ``before_rename`` (it raises to refuse), then rename the folder to ``dest``. On any
    error the staging folder is deleted: ``dest`` appears complete or not at all."""
    staging = Path(tempfile.mkdtemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".partial"))
    try:
        with _archive_errors(what):  # tarfile reads the first header here
            tar = tarfile.open(fileobj=source, mode="r:", tarinfo=_BoundedTarInfo)
        with tar:
            _extract_all(tar, source, staging, limits, what)
        if before_rename is not None:
            before_rename()
        os.chmod(staging, 0o755)
        os.rename(staging, dest)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return dest


class UnreadableArchiveError(IntegrityError):
    """The bytes are not a tar archive (or end inside one)."""


class _TarSource:
    """A file that can only go forward, over a stream of chunks: what ``tarfile`` needs
    to read headers (``read``, ``tell``, ``seek`` ahead), plus :meth:`read_view` to
    hand a member's bytes on without copying them."""

    def __init__(self, read_chunk: Callable[[], bytes]):
        self._read_chunk = read_chunk
        self._chunk = b""
        self._offset = 0  # read so far of _chunk
        self._pos = 0  # read so far of the stream

    def read_view(self, n: int) -> memoryview | bytes:
        """At most ``n`` (> 0) of the next bytes, ``b""`` only at the end."""
        if self._offset == len(self._chunk):
            self._chunk, self._offset = self._read_chunk(), 0
            if not self._chunk:
                return b""
        end = min(len(self._chunk), self._offset + n)
        view = memoryview(self._chunk)[self._offset:end]
        self._pos += end - self._offset
        self._offset = end
        return view

    def read(self, n: int = -1) -> bytes:
        parts = []
        while n != 0 and (piece := self.read_view(n if n > 0 else CHUNK_SIZE)):
            parts.append(piece)
            n = max(n - len(piece), 0) if n > 0 else n
        return b"".join(parts)

    def tell(self) -> int:
        return self._pos

    def seek(self, pos: int, whence: int = os.SEEK_SET) -> int:
        if whence != os.SEEK_SET or pos < self._pos:
            raise tarfile.ReadError("the archive is read as a stream: it cannot go back")
        while self._pos < pos and self.read_view(pos - self._pos):
            pass
        return self._pos


def _extract_all(tar: tarfile.TarFile, source: _TarSource, staging: Path, limits: StorageLimits,
                 what: str) -> None:
    """Extract every member, checking each (and the running totals) before writing it."""
    count = 0
    total = 0
    while (member := _next_member(tar, what)) is not None:
        count += 1
        if count > limits.max_archive_members:
            raise LimitExceededError(f"{what}: " + limits.exceeded("max_archive_members", "the number of members"))
        name = _checked_name(member, what)
        if member.isreg():
            total += member.size
            if total > limits.max_unpacked_bytes:
                raise LimitExceededError(
                    f"{what}: " + limits.exceeded(
                        "max_unpacked_bytes", f"the size of its files (past {total} bytes at {name!r})"
                    )
                )
        _extract(source, member, staging / name, what)


def _next_member(tar: tarfile.TarFile, what: str) -> tarfile.TarInfo | None:
    with _archive_errors(what):
        return tar.next()


@contextlib.contextmanager
def _archive_errors(what: str) -> Iterator[None]:
    """Turn what tarfile raises on a header into IntegrityError naming ``what``."""
    try:
        yield
    except (tarfile.TarError, ValueError) as e:
        raise UnreadableArchiveError(f"{what} is not a readable tar archive: {e}") from e
    except _RefusedHeader as e:
        raise IntegrityError(f"{what}: {e}") from None


class _RefusedHeader(Exception):
    pass


class _BoundedTarInfo(tarfile.TarInfo):
    """A tar header that refuses an extended header (long name, PAX records) larger
    than ``MAX_HEADER_BYTES`` before tarfile reads it into memory, and a sparse
    member before tarfile reads its map (which could fill memory)."""

    _EXTENDED = (tarfile.GNUTYPE_LONGNAME, tarfile.GNUTYPE_LONGLINK, tarfile.XHDTYPE,
                 tarfile.XGLTYPE, tarfile.SOLARIS_XHDTYPE)

    def _proc_member(self, tarfile_):
        if self.type in self._EXTENDED and self.size > MAX_HEADER_BYTES:
            raise _RefusedHeader(
                f"an extended header of {self.size} bytes (at most {MAX_HEADER_BYTES}); "
                "not an archive this client packs"
            )
        return super()._proc_member(tarfile_)

    def _refuse_sparse(self, *args):
        member = args[0] if args and isinstance(args[0], tarfile.TarInfo) else self  # PAX: the next header
        raise _RefusedHeader(f"member {member.name!r} is a sparse file; bundles hold only plain files")

    _proc_sparse = _proc_gnusparse_00 = _proc_gnusparse_01 = _proc_gnusparse_10 = _refuse_sparse


def _checked_name(member: tarfile.TarInfo, archive: str) -> str:
    """The member's name as a safe relative path, or IntegrityError."""
    name = member.name
    what = f"{archive}: member {name!r}"
    if member.issym() or member.islnk():
        raise IntegrityError(f"{what} is a link (to {member.linkname!r}); bundles hold no links")
    if member.issparse() or member.type == tarfile.GNUTYPE_SPARSE or any(
            key.startswith("GNU.sparse.") for key in member.pax_headers):
        # Its holes would be written out as zeros: far more bytes than the archive holds.
        raise IntegrityError(f"{what} is a sparse file; bundles hold only plain files")
    if not (member.isreg() or member.isdir()):
        raise IntegrityError(f"{what} is a device, FIFO or other special file")
    if "\\" in name or "\0" in name:
        raise IntegrityError(f"{what} has a character not allowed in bundle names")
    path = PurePosixPath(name)
    if path.is_absolute():
        raise IntegrityError(f"{what} is an absolute path")
    parts = [p for p in path.parts if p != "."]
    if ".." in parts:
        raise IntegrityError(f"{what} reaches outside the archive with '..'")
    if any(len(p.encode("utf-8", "surrogateescape")) > MAX_NAME_PART_BYTES for p in parts) or \
            len(name.encode("utf-8", "surrogateescape")) > MAX_NAME_BYTES:
        raise IntegrityError(f"{what} has a name longer than a file system takes "
                             f"({MAX_NAME_PART_BYTES} bytes a part, {MAX_NAME_BYTES} in all)")
    if not parts:
        if member.isdir():
            return "."
        raise IntegrityError(f"{what} has an empty name")
    return "/".join(parts)


def _extract(source: _TarSource, member: tarfile.TarInfo, target: Path, what: str) -> None:
    try:
        if member.isdir():
            target.mkdir(parents=True, exist_ok=True)
            os.chmod(target, 0o755)
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        mode = 0o755 if member.mode & 0o100 else 0o644
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        with os.fdopen(fd, "wb") as out:
            left = member.size
            while left:
                piece = source.read_view(min(left, CHUNK_SIZE))
                if not piece:
                    raise UnreadableArchiveError(f"{what} ends inside member {member.name!r}")
                out.write(piece)
                left -= len(piece)
        os.chmod(target, mode)
    except FileExistsError:
        raise IntegrityError(f"{what}: member {member.name!r} appears twice") from None
    except (NotADirectoryError, IsADirectoryError):
        raise IntegrityError(f"{what}: member {member.name!r} clashes with a file of the same name") from None


def upload_folder(
    backend: StorageBackend,
    folder: Path,
    seal_to: bytes | None = None,
    progress: Progress | None = None,
    *,
    binding: ResultBinding | None = None,
    signer: "Keypair | None" = None,
) -> StoredObject:
    """Pack ``folder``, seal it to the X25519 public key ``seal_to`` if given, and store it.

    A result is sealed with its ``binding`` (the submission it is for), signed by
    ``signer``, the contributor's sr25519 keypair (see
    :func:`~substrate_client.sealing.seal_file`). Checks that the backend can find
    the object before returning it. The returned ``content_hash`` and ``size`` are
    those of the stored bytes (sealed, if sealed): what the chain records, and what
    a download must then expect.
    """
    if seal_to is None and (binding is not None or signer is not None):
        raise UserInputError("only a sealed result carries a binding: give seal_to as well")
    if seal_to is None and backend.streams_uploads:
        # No temporary tar: the archive is generated into the upload and hashed on the way,
        # in one pass; the hash recorded is that of exactly the bytes sent.
        tar = FolderTar(folder)
        path = backend.put_stream(tar, progress)
        if not tar.complete:
            raise StorageError(f"{backend.storage_type} returned before it had read all of {folder}")
        stored = StoredObject(backend.storage_type, path, tar.digest.digest(), tar.size)
    else:
        with tempfile.TemporaryDirectory(prefix="decentralml-upload-") as work:
            archive = Path(work) / "bundle.tar"
            tar_hash = pack_folder(folder, archive)
            if seal_to is not None:
                if binding is None:
                    log.warning("sealing %s without binding it to a submission: a creator who "
                                "checks bindings will refuse it", folder)
                archive = seal_file(archive, Path(work) / "bundle.tar.sealed", seal_to,
                                    binding=binding, signer=signer)
                stored = backend.put_file(archive, progress)
            else:
                stored = backend.put_file(archive, progress, content_hash=tar_hash)
    if not backend.exists(stored.path):
        raise StorageError(
            f"{backend.storage_type} accepted {folder} as {stored.path} but cannot find it afterwards"
        )
    log.info("stored %s as %s %s", folder, stored.storage_type, stored.path)
    return stored


def download_folder(
    backend: StorageBackend,
    path: str,
    content_hash: bytes,
    dest: Path,
    private_key: bytes | None = None,
    progress: Progress | None = None,
    *,
    expected_size: int | None = None,
    max_bytes: int | None = None,
    limits: StorageLimits | None = None,
    expected_binding: ResultBinding | None = None,
    require_sealed: bool = False,
) -> Path:
    """Fetch the bundle at ``path``, check it against ``content_hash``, and unpack it to ``dest``.

    The archive is unpacked as it arrives, into a staging folder beside ``dest``
    that is renamed to ``dest`` only once the whole object matched ``content_hash``
    and ``expected_size`` (if given: the size recorded on-chain); on a mismatch, or
    any error or limit, the staging folder is deleted. No archive is written to disk.
    The download stops as soon as it passes ``max_bytes`` (default
    ``limits.max_download_bytes``), and the archive must keep within ``limits``
    (default :meth:`StorageLimits.from_environment`).

    A sealed object is fetched to a file (checked before it is opened), opened with
    ``private_key`` and then unpacked. A result is fetched with ``expected_binding``,
    the submission it is fetched for: it must then be sealed
    (:class:`UnsealedResultError`) and bound to that submission and signed by its
    contributor (:class:`ReplayedResultError`). ``require_sealed`` refuses an unsealed
    object without checking a binding. ``dest`` must not exist; it appears only
    when complete.
    """
    content_hash = check_hash(content_hash)
    if max_bytes is None and limits is not None:
        max_bytes = limits.max_download_bytes  # else open_object reads the setting, and names it
    limits = limits if limits is not None else StorageLimits.from_environment()
    dest = _new_folder(dest, "download")
    label = f"{backend.storage_type} object {path}"
    with backend.open_object(path, content_hash, progress, max_bytes=max_bytes,
                             expected_size=expected_size) as stream:
        must_be_sealed = expected_binding is not None or require_sealed
        if must_be_sealed or looks_sealed(stream.peek(SEALED_PREFIX_BYTES)):
            return _download_sealed(stream, dest, path, label, private_key, limits, expected_binding,
                                    must_be_sealed)
        try:
            return _unpack(_TarSource(stream.read_chunk), dest, limits, label, stream.verify)
        except UnreadableArchiveError:
            stream.verify()  # not a tar: say first if it is not the recorded object at all
            raise


def _download_sealed(stream: ObjectStream, dest: Path, path: str, label: str, private_key: bytes | None,
                     limits: StorageLimits, expected_binding: ResultBinding | None,
                     must_be_sealed: bool) -> Path:
    """Save the object (checked) beside ``dest``, open it if sealed, unpack the archive."""
    with tempfile.TemporaryDirectory(dir=dest.parent, prefix=f".{dest.name}.download-") as work:
        archive = stream.save(Path(work) / "object")
        if must_be_sealed:
            require_sealed_file(archive, label=label)
        if is_sealed(archive):
            if private_key is None:
                raise UserInputError(
                    f"{path} is sealed; pass the private key it was sealed to (private_key=...)"
                )
            archive = open_sealed_file(
                archive, Path(work) / "bundle.tar", private_key,
                expected_binding=expected_binding, label=label,
            )
        return unpack_archive(archive, dest, limits)
