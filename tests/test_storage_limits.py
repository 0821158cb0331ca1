"""Hostile objects against the size limits, on each real backend (Local, Kubo, MinIO).

A bundle or a result comes from the other side: its archive may hold a sparse member
that unpacks to far more than it stores, thousands of members, or more bytes than
the machine should take; the object itself may be far larger than anything expected.
Each is refused with an error naming the limit, and nothing is left behind.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import os
import tarfile
from pathlib import Path

import pytest

from substrate_client.errors import IntegrityError, UserInputError
from substrate_client.storage import download_folder, unpack_archive, upload_folder
from tests.test_storage import backend, leftovers, make_folder, tree  # noqa: F401 (fixture)

MiB = 1024 * 1024


@pytest.fixture(autouse=True)
def default_limits(monkeypatch):
    """The library's defaults, whatever the developer's shell sets."""
    for name in ("DECENTRALML_MAX_DOWNLOAD_BYTES", "DECENTRALML_MAX_ARCHIVE_MEMBERS",
                 "DECENTRALML_MAX_UNPACKED_BYTES"):
        monkeypatch.delenv(name, raising=False)


# --- hostile archives ---------------------------------------------------------


def sparse_tar(path: Path, real_size: int, stored: int = 512) -> Path:
    """A tar whose one member (old GNU sparse format) stores ``stored`` bytes at the end
    of a ``real_size``-byte file: tarfile would write the hole out as zeros."""
    info = tarfile.TarInfo("weights.bin")
    info.size = stored
    info.type = tarfile.GNUTYPE_SPARSE
    header = bytearray(info.tobuf(tarfile.GNU_FORMAT, "utf-8", "surrogateescape"))
    header[386:398] = tarfile.itn(real_size - stored, 12, tarfile.GNU_FORMAT)  # region offset
    header[398:410] = tarfile.itn(stored, 12, tarfile.GNU_FORMAT)  # region length
    header[482] = 0  # no extension headers
    header[483:495] = tarfile.itn(real_size, 12, tarfile.GNU_FORMAT)  # the size it unpacks to
    header[148:156] = b" " * 8
    header[148:155] = b"%06o\0" % sum(header)
    data = bytes(header) + b"w" * stored + b"\0" * (2 * tarfile.BLOCKSIZE)
    path.write_bytes(data + b"\0" * (-len(data) % tarfile.RECORDSIZE))
    return path


def many_members_tar(path: Path, count: int) -> Path:
    """A tar of ``count`` empty files."""
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tar:
        for i in range(count):
            tar.addfile(tarfile.TarInfo(f"f{i:05d}"), io.BytesIO(b""))
    return path


def files_tar(path: Path, sizes: list[int]) -> Path:
    """A tar of files of the given sizes (random bytes)."""
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tar:
        for i, size in enumerate(sizes):
            info = tarfile.TarInfo(f"part{i}.bin")
            info.size = size
            tar.addfile(info, io.BytesIO(os.urandom(size)))
    return path


def assert_nothing_unpacked(dest: Path) -> None:
    assert not dest.exists()
    assert leftovers(dest.parent) == []


def test_a_tar_with_a_sparse_member_is_refused_before_anything_is_written(backend, tmp_path):
    bomb = sparse_tar(tmp_path / "bomb.tar", real_size=256 * MiB)
    assert bomb.stat().st_size == 10 * 1024  # 10 KiB that would unpack to 256 MiB
    stored = backend.put_file(bomb)
    dest = tmp_path / "out" / "bundle"

    with pytest.raises(IntegrityError, match="weights.bin.*sparse"):
        download_folder(backend, stored.path, stored.content_hash, dest)

    assert_nothing_unpacked(dest)


def test_a_tar_with_more_members_than_max_archive_members_is_refused(backend, tmp_path):
    from substrate_client.storage.limits import DEFAULT_MAX_ARCHIVE_MEMBERS

    bomb = many_members_tar(tmp_path / "bomb.tar", 20_000)
    assert DEFAULT_MAX_ARCHIVE_MEMBERS < 20_000
    stored = backend.put_file(bomb)
    dest = tmp_path / "out" / "bundle"

    with pytest.raises(IntegrityError) as error:
        download_folder(backend, stored.path, stored.content_hash, dest)

    message = str(error.value)
    assert "max_archive_members" in message and str(DEFAULT_MAX_ARCHIVE_MEMBERS) in message
    assert "DECENTRALML_MAX_ARCHIVE_MEMBERS" in message
    assert_nothing_unpacked(dest)


def test_a_tar_unpacking_to_more_than_max_unpacked_bytes_is_refused(backend, tmp_path, monkeypatch):
    monkeypatch.setenv("DECENTRALML_MAX_UNPACKED_BYTES", str(MiB))
    bomb = files_tar(tmp_path / "bomb.tar", [512 * 1024, 512 * 1024, 1])
    stored = backend.put_file(bomb)
    dest = tmp_path / "out" / "bundle"

    with pytest.raises(IntegrityError) as error:
        download_folder(backend, stored.path, stored.content_hash, dest)

    message = str(error.value)
    assert "max_unpacked_bytes" in message and str(MiB) in message
    assert "DECENTRALML_MAX_UNPACKED_BYTES" in message
    assert_nothing_unpacked(dest)


def test_a_tar_at_exactly_the_limits_unpacks(tmp_path, monkeypatch):
    from substrate_client.storage.limits import StorageLimits

    archive = files_tar(tmp_path / "exact.tar", [512 * 1024, 512 * 1024])
    limits = StorageLimits(max_archive_members=2, max_unpacked_bytes=MiB)

    out = unpack_archive(archive, tmp_path / "out", limits=limits)

    assert sorted(p.stat().st_size for p in out.iterdir()) == [512 * 1024, 512 * 1024]
    with pytest.raises(IntegrityError, match="max_archive_members"):
        unpack_archive(archive, tmp_path / "fewer", limits=StorageLimits(max_archive_members=1))
    with pytest.raises(IntegrityError, match="max_unpacked_bytes"):
        unpack_archive(archive, tmp_path / "smaller", limits=StorageLimits(max_unpacked_bytes=MiB - 1))
    assert leftovers(tmp_path) == []


def test_a_pax_sparse_member_is_refused_too(tmp_path):
    archive = tmp_path / "pax-sparse.tar"
    with tarfile.open(archive, "w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo("weights.bin")
        info.size = 4
        info.pax_headers = {"GNU.sparse.size": str(256 * MiB), "GNU.sparse.numblocks": "1",
                            "GNU.sparse.offset": str(256 * MiB - 4), "GNU.sparse.numbytes": "4"}
        tar.addfile(info, io.BytesIO(b"evil"))

    with pytest.raises(IntegrityError, match="sparse"):
        unpack_archive(archive, tmp_path / "out")
    assert_nothing_unpacked(tmp_path / "out")


# --- oversized downloads ------------------------------------------------------


@pytest.fixture
def big_object(backend, tmp_path):
    """A 20 MiB object on the backend: (backend, stored object)."""
    src = tmp_path / "big.bin"
    src.write_bytes(os.urandom(20 * MiB))
    return backend, backend.put_file(src)


def test_a_download_larger_than_the_configured_limit_stops_early_and_leaves_nothing(
        big_object, tmp_path, monkeypatch):
    backend, stored = big_object
    monkeypatch.setenv("DECENTRALML_MAX_DOWNLOAD_BYTES", str(2 * MiB))
    moved = []
    dest = tmp_path / "out" / "big.bin"

    with pytest.raises(IntegrityError) as error:
        backend.get_file(stored.path, dest, stored.content_hash, progress=moved.append)

    message = str(error.value)
    assert "max_bytes" in message and str(2 * MiB) in message
    assert "DECENTRALML_MAX_DOWNLOAD_BYTES" in message
    assert sum(moved) <= 2 * MiB  # stopped at the limit, not after 20 MiB
    assert not dest.exists() and leftovers(dest.parent) == []
    with pytest.raises(IntegrityError, match="DECENTRALML_MAX_DOWNLOAD_BYTES"):
        download_folder(backend, stored.path, stored.content_hash, tmp_path / "folder")
    assert_nothing_unpacked(tmp_path / "folder")


def test_a_download_larger_than_max_bytes_stops_early_and_leaves_nothing(big_object, tmp_path):
    from substrate_client.errors import LimitExceededError

    backend, stored = big_object
    moved = []
    dest = tmp_path / "out" / "big.bin"

    with pytest.raises(LimitExceededError, match=f"max_bytes.*{MiB}"):
        backend.get_file(stored.path, dest, stored.content_hash, progress=moved.append,
                         max_bytes=MiB)

    assert sum(moved) <= MiB
    assert not dest.exists() and leftovers(dest.parent) == []
    with pytest.raises(LimitExceededError):
        download_folder(backend, stored.path, stored.content_hash, tmp_path / "folder", max_bytes=MiB)
    assert_nothing_unpacked(tmp_path / "folder")


def test_a_download_is_refused_unless_it_has_exactly_the_recorded_size(big_object, tmp_path):
    backend, stored = big_object
    dest = tmp_path / "out" / "big.bin"
    moved = []

    with pytest.raises(IntegrityError, match=f"more than the {3 * MiB} bytes recorded"):
        backend.get_file(stored.path, dest, stored.content_hash, progress=moved.append,
                         expected_size=3 * MiB)
    assert sum(moved) <= 3 * MiB
    with pytest.raises(IntegrityError, match=f"{20 * MiB} bytes, not the {20 * MiB + 1} bytes recorded"):
        backend.get_file(stored.path, dest, stored.content_hash, expected_size=20 * MiB + 1)
    assert not dest.exists() and leftovers(dest.parent) == []

    backend.get_file(stored.path, dest, stored.content_hash, expected_size=stored.size)
    assert hashlib.sha256(dest.read_bytes()).digest() == stored.content_hash


def test_a_recorded_size_above_max_bytes_is_refused_before_downloading(big_object, tmp_path):
    backend, stored = big_object
    moved = []
    with pytest.raises(IntegrityError, match="max_bytes"):
        backend.get_file(stored.path, tmp_path / "x", stored.content_hash, progress=moved.append,
                         expected_size=stored.size, max_bytes=MiB)
    assert moved == []


@pytest.mark.parametrize("bad", [-1, 1.5, "12", True])
def test_max_bytes_and_expected_size_must_be_whole_numbers(tmp_path, bad):
    from substrate_client.storage import LocalStorage

    store = LocalStorage(tmp_path / "store")
    with pytest.raises(UserInputError):
        store.get_file("x" * 64, tmp_path / "x", b"\0" * 32, max_bytes=bad)
    with pytest.raises(UserInputError):
        store.get_file("x" * 64, tmp_path / "x", b"\0" * 32, expected_size=bad)


@pytest.mark.parametrize("sealed", [False, True], ids=["plain", "sealed"])
def test_every_upload_returns_the_size_its_download_must_expect(backend, tmp_path, sealed):
    from nacl.public import PrivateKey

    folder = make_folder(tmp_path / "task")
    key = PrivateKey.generate()
    stored = upload_folder(backend, folder, seal_to=bytes(key.public_key) if sealed else None)

    raw = backend.get_file(stored.path, tmp_path / "raw", stored.content_hash,
                           expected_size=stored.size)
    assert raw.stat().st_size == stored.size
    fetched = download_folder(backend, stored.path, stored.content_hash, tmp_path / "fetched",
                              private_key=bytes(key) if sealed else None, expected_size=stored.size)
    assert tree(fetched) == tree(folder)
    with pytest.raises(IntegrityError, match="recorded"):
        download_folder(backend, stored.path, stored.content_hash, tmp_path / "short",
                        private_key=bytes(key) if sealed else None, expected_size=stored.size - 1)
    assert_nothing_unpacked(tmp_path / "short")


def test_an_extended_header_too_large_to_read_into_memory_is_refused(tmp_path):
    from substrate_client.storage.bundle import MAX_HEADER_BYTES

    archive = tmp_path / "huge-header.tar"
    with tarfile.open(archive, "w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo("model.bin")
        info.pax_headers = {"comment": "x" * (MAX_HEADER_BYTES + 1)}
        tar.addfile(info, io.BytesIO(b""))

    with pytest.raises(IntegrityError, match="extended header"):
        unpack_archive(archive, tmp_path / "out")
    assert_nothing_unpacked(tmp_path / "out")
    # A long name is an extended header too: an ordinary one unpacks.
    long_name = "d/" + "n" * 200 + "/" + "m" * 200
    with tarfile.open(tmp_path / "long.tar", "w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo(long_name)
        info.size = 1
        tar.addfile(info, io.BytesIO(b"1"))
    assert (unpack_archive(tmp_path / "long.tar", tmp_path / "ok") / long_name).read_bytes() == b"1"


@pytest.mark.parametrize("name", ["n" * 256, "/".join(["d" * 200] * 11)], ids=["part", "whole"])
def test_a_member_name_longer_than_a_file_system_takes_is_refused_before_writing(tmp_path, name):
    archive = tmp_path / "long.tar"
    with tarfile.open(archive, "w", format=tarfile.PAX_FORMAT) as tar:
        tar.addfile(tarfile.TarInfo("first.txt"), io.BytesIO(b""))
        tar.addfile(tarfile.TarInfo(name), io.BytesIO(b""))

    with pytest.raises(IntegrityError, match="name longer"):
        unpack_archive(archive, tmp_path / "out")
    assert_nothing_unpacked(tmp_path / "out")


def test_a_download_that_grows_past_its_limit_after_the_size_check_is_cut_off(big_object):
    # As if the object were replaced by a larger one between the size check and the
    # transfer: the backend believes 100 MiB may come, the stream reading it takes 3.
    from substrate_client.errors import LimitExceededError
    from substrate_client.storage.base import ObjectStream, _Cap

    backend, stored = big_object
    moved = []
    cap = _Cap(3 * MiB, lambda size: LimitExceededError("past the 3 MiB cap"))
    stream = ObjectStream(backend._chunks(stored.path, 100 * MiB), "the object", cap,
                          stored.content_hash, None, moved.append)
    try:
        with pytest.raises(LimitExceededError, match="3 MiB cap"):
            while stream.read_chunk():
                pass
    finally:
        stream.close()
    assert sum(moved) <= 3 * MiB


# --- refused mid-stream -------------------------------------------------------
#
# download_folder unpacks as the object arrives. Each archive below starts with a
# harmless 3 MiB file, so the rule fires while unpacking is under way: the staging
# folder already holds that file (seen by the progress callback), and afterwards
# neither it nor the destination exists, and nothing else beside them changed.

FIRST = 3 * MiB


def _file(tar: tarfile.TarFile, name: str, data: bytes, **pax) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.pax_headers = pax
    tar.addfile(info, io.BytesIO(data))


def _special(name: str, kind: bytes, linkname: str = ""):
    def add(tar: tarfile.TarFile) -> None:
        info = tarfile.TarInfo(name)
        info.type = kind
        info.linkname = linkname
        tar.addfile(info)
    return add


def _sparse(tar: tarfile.TarFile) -> None:
    _file(tar, "weights.bin", b"evil", **{
        "GNU.sparse.size": str(256 * MiB), "GNU.sparse.numblocks": "1",
        "GNU.sparse.offset": str(256 * MiB - 4), "GNU.sparse.numbytes": "4"})


MID_STREAM = {
    "dotdot": (lambda tar: _file(tar, "../escaped.txt", b"x"), "'..'"),
    "nested-dotdot": (lambda tar: _file(tar, "sub/../../escaped.txt", b"x"), "'..'"),
    "absolute": (lambda tar: _file(tar, "/tmp/decentralml-absolute.txt", b"x"), "absolute"),
    "symlink": (_special("link", tarfile.SYMTYPE, "/etc/passwd"), "link"),
    "hardlink": (_special("hard", tarfile.LNKTYPE, "first.bin"), "link"),
    "char-device": (_special("tty", tarfile.CHRTYPE), "device"),
    "block-device": (_special("disk", tarfile.BLKTYPE), "device"),
    "fifo": (_special("pipe", tarfile.FIFOTYPE), "FIFO"),
    "sparse": (_sparse, "weights.bin.*sparse"),
    "huge-extended-header": (lambda tar: _file(tar, "model.bin", b"", comment="x" * (2 * MiB)), "extended header"),
    "long-name": (lambda tar: _file(tar, "n" * 256, b"x"), "name longer"),
    "twice": (lambda tar: _file(tar, "first.bin", b"again"), "appears twice"),
}


def first_then(path: Path, add=None, first: int = FIRST) -> Path:
    """A tar of a harmless ``first.bin`` of ``first`` random bytes, then what ``add`` adds."""
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tar:
        _file(tar, "first.bin", os.urandom(first))
        if add is not None:
            add(tar)
    return path


class StagingWatch:
    """A progress callback noting the files it sees in staging folders beside ``dest``."""

    def __init__(self, dest: Path):
        self.dest = dest
        self.seen: set[str] = set()

    def __call__(self, _moved: int) -> None:
        for staging in self.dest.parent.glob(f".{self.dest.name}.*.partial"):
            self.seen.update(p.name for p in staging.iterdir())


def refused_mid_stream(backend, stored, tmp_path, error=IntegrityError, match=None, **kwargs):
    """Download ``stored``; it must raise ``error`` after unpacking began, leaving nothing."""
    parent = tmp_path / "downloads"
    parent.mkdir(exist_ok=True)
    (parent / "earlier-download").mkdir(exist_ok=True)
    before = sorted(os.listdir(parent))
    dest = parent / "bundle"
    watch = StagingWatch(dest)

    with pytest.raises(error, match=match) as raised:
        download_folder(backend, stored.path, stored.content_hash, dest, progress=watch, **kwargs)

    assert "first.bin" in watch.seen, "the rule fired before unpacking began"
    assert sorted(os.listdir(parent)) == before  # no staging folder, no destination
    return raised.value


@pytest.mark.parametrize("case", sorted(MID_STREAM))
def test_an_unsafe_member_arriving_mid_stream_leaves_no_staging_folder(backend, tmp_path, case):
    add, why = MID_STREAM[case]
    stored = backend.put_file(first_then(tmp_path / "evil.tar", add))

    refused_mid_stream(backend, stored, tmp_path, match=why)

    assert not (tmp_path / "escaped.txt").exists()
    assert not Path("/tmp/decentralml-absolute.txt").exists()


def test_too_many_members_mid_stream_leaves_no_staging_folder(backend, tmp_path, monkeypatch):
    monkeypatch.setenv("DECENTRALML_MAX_ARCHIVE_MEMBERS", "3")
    stored = backend.put_file(first_then(tmp_path / "many.tar", lambda tar: [
        _file(tar, f"f{i}", b"") for i in range(5)]))

    error = refused_mid_stream(backend, stored, tmp_path, match="max_archive_members = 3")

    assert "DECENTRALML_MAX_ARCHIVE_MEMBERS" in str(error)


def test_too_many_unpacked_bytes_mid_stream_leaves_no_staging_folder(backend, tmp_path, monkeypatch):
    monkeypatch.setenv("DECENTRALML_MAX_UNPACKED_BYTES", str(4 * MiB))
    stored = backend.put_file(first_then(tmp_path / "big.tar", lambda tar: _file(tar, "second.bin", bytes(2 * MiB))))

    error = refused_mid_stream(backend, stored, tmp_path, match=f"max_unpacked_bytes = {4 * MiB}")

    assert "DECENTRALML_MAX_UNPACKED_BYTES" in str(error)


def test_a_wrong_hash_found_after_unpacking_everything_leaves_no_staging_folder(backend, tmp_path):
    archive = first_then(tmp_path / "ok.tar", lambda tar: _file(tar, "second.bin", os.urandom(MiB)))
    stored = backend.put_file(archive)
    wrong = hashlib.sha256(b"what the chain says").digest()

    error = refused_mid_stream(backend, dataclasses.replace(stored, content_hash=wrong), tmp_path,
                               match=wrong.hex())

    assert stored.content_hash.hex() in str(error)


def test_an_object_shorter_than_its_recorded_size_leaves_no_staging_folder(backend, tmp_path):
    stored = backend.put_file(first_then(tmp_path / "ok.tar"))

    refused_mid_stream(backend, stored, tmp_path, match=f"not the {stored.size + 1} bytes recorded",
                       expected_size=stored.size + 1)


def test_an_archive_ending_inside_a_member_leaves_no_staging_folder(backend, tmp_path):
    archive = first_then(tmp_path / "cut.tar", lambda tar: _file(tar, "second.bin", os.urandom(2 * MiB)))
    archive.write_bytes(archive.read_bytes()[:FIRST + 5 * 512 + MiB])  # into second.bin's bytes
    stored = backend.put_file(archive)  # its hash is that of the cut bytes: only the archive is wrong

    refused_mid_stream(backend, stored, tmp_path, match="ends inside member 'second.bin'")


def test_a_local_object_growing_past_the_limit_mid_stream_is_cut_off(tmp_path):
    # The size is checked before fetching; should the file grow meanwhile, the stream
    # stops at the limit and what was unpacked so far is deleted.
    from substrate_client.errors import LimitExceededError
    from substrate_client.storage import LocalStorage

    store = LocalStorage(tmp_path / "store")
    stored = store.put_file(first_then(tmp_path / "ok.tar", first=20 * MiB))
    grown = []

    def grow(_moved: int) -> None:
        watch(_moved)
        if not grown:  # the fetching thread is at most a few MiB ahead of the reader
            with open(store.root / stored.path, "ab") as f:
                f.write(bytes(10 * MiB))
            grown.append(True)

    parent = tmp_path / "downloads"
    parent.mkdir()
    dest = parent / "bundle"
    watch = StagingWatch(dest)
    with pytest.raises(LimitExceededError, match=f"max_bytes = {stored.size + MiB}"):
        download_folder(store, stored.path, stored.content_hash, dest, progress=grow,
                        max_bytes=stored.size + MiB)
    assert "first.bin" in watch.seen
    assert os.listdir(parent) == []
