"""Storage backends against real daemons (Kubo, MinIO), and bundle packing/unpacking."""

from __future__ import annotations

import hashlib
import io
import json
import base64
import os
import re
import stat
import subprocess
import sys
import tarfile
import textwrap
from pathlib import Path

import boto3
import pytest

from substrate_client.errors import IntegrityError, StorageError, StorageUnavailableError, UserInputError
from substrate_client.storage import (
    IpfsStorage,
    LocalStorage,
    S3Storage,
    StoredObject,
    backend_from_settings,
    download_folder,
    pack_folder,
    unpack_archive,
    upload_folder,
)
from substrate_client.storage.bundle import FolderTar
from tests.daemons import free_port

REPO = Path(__file__).resolve().parent.parent


# --- helpers ---------------------------------------------------------------


def make_folder(root: Path) -> Path:
    """A small task-like folder: nested files, an executable, binary data, an empty dir."""
    (root / "model" / "variables").mkdir(parents=True)
    (root / "empty").mkdir()
    (root / "README.md").write_text("a task\n")
    (root / "model" / "saved_model.pb").write_bytes(bytes(range(256)) * 40)
    (root / "model" / "variables" / "variables.data").write_bytes(os.urandom(100_000))
    (root / "train.sh").write_text("#!/bin/sh\necho train\n")
    (root / "train.sh").chmod(0o755)
    (root / "naïve name.txt").write_text("unicode\n")
    return root


def tree(root: Path) -> dict[str, object]:
    """Relative path -> bytes for files ('dir' for folders) and the exec bit."""
    out = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if path.is_dir():
            out[rel] = "dir"
        else:
            out[rel] = (path.read_bytes(), bool(path.stat().st_mode & stat.S_IXUSR))
    return out


def leftovers(directory: Path) -> list[str]:
    """Hidden temporary files/folders our code leaves beside a destination, if any."""
    return sorted(p.name for p in directory.iterdir() if p.name.startswith("."))


@pytest.fixture(params=["Local", "IPFS", "S3"])
def backend(request, tmp_path):
    """Each backend in turn, on its real service."""
    if request.param == "Local":
        return LocalStorage(tmp_path / "store")
    if request.param == "IPFS":
        return IpfsStorage(request.getfixturevalue("kubo").api_url)
    minio = request.getfixturevalue("minio")
    return S3Storage("test-bundles", endpoint_url=minio.endpoint_url)


# --- round trips -----------------------------------------------------------


def test_put_file_then_get_file_returns_the_same_bytes(backend, tmp_path):
    data = os.urandom(3 * 1024 * 1024 + 17)
    src = tmp_path / "blob"
    src.write_bytes(data)
    moved = []

    stored = backend.put_file(src, progress=moved.append)

    assert isinstance(stored, StoredObject)
    assert stored.storage_type == backend.storage_type
    assert stored.content_hash == hashlib.sha256(data).digest()
    assert stored.size == len(data)
    assert sum(moved) == len(data)
    assert backend.exists(stored.path)
    dest = tmp_path / "out" / "blob"
    assert backend.get_file(stored.path, dest, stored.content_hash) == dest
    assert dest.read_bytes() == data
    assert leftovers(dest.parent) == []


def test_folder_round_trips_through_each_backend(backend, tmp_path):
    folder = make_folder(tmp_path / "task")

    stored = upload_folder(backend, folder)
    fetched = download_folder(backend, stored.path, stored.content_hash, tmp_path / "fetched")

    assert tree(fetched) == tree(folder)
    assert leftovers(tmp_path) == []


def test_put_file_given_the_writers_hash_stores_the_same_object_without_rehashing(backend, tmp_path):
    src = tmp_path / "blob"
    src.write_bytes(os.urandom(3 * 1024 * 1024))
    content_hash = hashlib.sha256(src.read_bytes()).digest()

    stored = backend.put_file(src, content_hash=content_hash)

    assert same_object(stored, backend.put_file(src), backend)
    assert backend.get_file(stored.path, tmp_path / "back", content_hash).read_bytes() == src.read_bytes()


def same_object(a: StoredObject, b: StoredObject, backend) -> bool:
    """The same bytes stored twice: one object on content-addressed backends (IPFS, Local);
    on S3, which names every upload afresh, two objects with the same hash and size."""
    if isinstance(backend, S3Storage):
        return a.path != b.path and (a.storage_type, a.content_hash, a.size) == (b.storage_type, b.content_hash, b.size)
    return a == b


def test_storing_the_same_bytes_twice_gives_the_same_object_or_on_s3_two_alike(backend, tmp_path):
    src = tmp_path / "blob"
    src.write_bytes(b"same bytes")
    assert same_object(backend.put_file(src), backend.put_file(src), backend)


def raw_cid(data: bytes) -> str:
    """The CIDv1 (raw codec, sha2-256, base32) of a single block of ``data``."""
    multihash = bytes([0x01, 0x55, 0x12, 0x20]) + hashlib.sha256(data).digest()
    return "b" + base64.b32encode(multihash).decode().lower().rstrip("=")


def test_exists_is_false_for_an_object_never_stored(backend):
    never = os.urandom(32)
    absent = {
        "Local": hashlib.sha256(never).hexdigest(),
        "IPFS": raw_cid(never),
        "S3": "test-bundles/decentralml/" + hashlib.sha256(never).hexdigest(),
    }[backend.storage_type]
    assert not backend.exists(absent)


def test_a_small_ipfs_object_has_the_raw_leaf_cid_of_its_bytes(kubo, tmp_path):
    src = tmp_path / "blob"
    src.write_bytes(b"hello decentralml")
    assert IpfsStorage(kubo.api_url).put_file(src).path == raw_cid(b"hello decentralml")


def test_a_wrong_expected_hash_raises_and_leaves_nothing_at_dest(backend, tmp_path):
    src = tmp_path / "blob"
    src.write_bytes(b"the real bytes")
    stored = backend.put_file(src)
    dest = tmp_path / "out" / "blob"
    wrong = hashlib.sha256(b"what the chain says").digest()

    with pytest.raises(IntegrityError) as error:
        backend.get_file(stored.path, dest, wrong)

    assert wrong.hex() in str(error.value) and stored.content_hash.hex() in str(error.value)
    assert not dest.exists()
    assert leftovers(dest.parent) == []


def test_a_wrong_expected_hash_on_a_multipart_s3_object_leaves_nothing_at_dest(minio, tmp_path):
    backend = S3Storage("test-multipart", endpoint_url=minio.endpoint_url)
    src = tmp_path / "blob"
    src.write_bytes(os.urandom(20 * 1024 * 1024))  # several parts
    stored = backend.put_file(src)
    dest = tmp_path / "out" / "blob"

    backend.get_file(stored.path, tmp_path / "ok" / "blob", stored.content_hash)
    with pytest.raises(IntegrityError):
        backend.get_file(stored.path, dest, hashlib.sha256(b"not it").digest())

    assert (tmp_path / "ok" / "blob").read_bytes() == src.read_bytes()
    assert not dest.exists()
    assert leftovers(dest.parent) == []


def test_a_streamed_ipfs_upload_stores_exactly_the_bytes_pack_folder_writes(kubo, tmp_path):
    folder = make_folder(tmp_path / "task")
    (folder / "big.bin").write_bytes(os.urandom(3 * 1024 * 1024 + 7))
    archive = tmp_path / "bundle.tar"
    packed_hash = pack_folder(folder, archive)
    backend = IpfsStorage(kubo.api_url)

    stored = upload_folder(backend, folder)

    assert stored.content_hash == packed_hash
    assert stored.size == archive.stat().st_size
    assert stored.path == backend.put_file(archive).path  # the same CID: the same bytes
    back = tmp_path / "back.tar"
    backend.get_file(stored.path, back, stored.content_hash)
    assert back.read_bytes() == archive.read_bytes()


def test_a_folder_tar_yields_what_pack_folder_writes(tmp_path):
    folder = make_folder(tmp_path / "task")
    (folder / ("long-name-" * 20)).write_bytes(os.urandom(10_000))
    tar = FolderTar(folder)

    streamed = b"".join(tar)

    assert tar.complete and tar.size == len(streamed)
    assert tar.digest.digest() == pack_folder(folder, tmp_path / "bundle.tar")
    assert streamed == (tmp_path / "bundle.tar").read_bytes()


def test_a_given_content_hash_that_does_not_match_the_file_is_refused_by_local_storage(tmp_path):
    src = tmp_path / "blob"
    src.write_bytes(b"the real bytes")
    store = LocalStorage(tmp_path / "store")

    with pytest.raises(StorageError):
        store.put_file(src, content_hash=hashlib.sha256(b"other bytes").digest())

    assert leftovers(store.root) == []


def test_a_tampered_local_object_is_refused_and_never_unpacked(tmp_path):
    store = LocalStorage(tmp_path / "store")
    stored = upload_folder(store, make_folder(tmp_path / "task"))
    with open(store.root / stored.path, "r+b") as f:
        f.seek(600)
        f.write(b"evil")

    with pytest.raises(IntegrityError, match=stored.content_hash.hex()):
        download_folder(store, stored.path, stored.content_hash, tmp_path / "fetched")

    assert not (tmp_path / "fetched").exists()
    assert leftovers(tmp_path) == []


def test_a_tampered_s3_object_is_refused_and_never_unpacked(minio, tmp_path):
    backend = S3Storage("tamper", endpoint_url=minio.endpoint_url)
    stored = upload_folder(backend, make_folder(tmp_path / "task"))
    bucket, key = stored.path.split("/", 1)
    boto3.client("s3", endpoint_url=minio.endpoint_url).put_object(
        Bucket=bucket, Key=key, Body=b"replaced by someone else"
    )

    with pytest.raises(IntegrityError, match=stored.content_hash.hex()):
        download_folder(backend, stored.path, stored.content_hash, tmp_path / "fetched")

    assert not (tmp_path / "fetched").exists()
    assert leftovers(tmp_path) == []


def test_s3_objects_get_a_fresh_random_key_under_the_prefix_never_their_hash(minio, tmp_path):
    src = tmp_path / "blob"
    src.write_bytes(b"named by an upload id")
    backend = S3Storage("new-bucket-made-on-demand", endpoint_url=minio.endpoint_url, prefix="p/")

    stored = [backend.put_file(src), backend.put_file(src)]

    for one in stored:
        assert re.fullmatch(r"new-bucket-made-on-demand/p/[0-9a-f]{32}\.dml", one.path), one.path
        assert one.content_hash == hashlib.sha256(b"named by an upload id").digest()
        assert one.content_hash.hex() not in one.path
        assert backend.get_file(one.path, tmp_path / "back", one.content_hash).read_bytes() == src.read_bytes()
    assert stored[0].path != stored[1].path  # no deduplication


def test_an_object_stored_under_its_old_content_hash_key_still_downloads(minio, tmp_path):
    """Objects stored before keys were random (``prefix + sha256 hex``) are found by the
    path their Location records, and checked like any other."""
    folder = make_folder(tmp_path / "task")
    packed_hash = pack_folder(folder, tmp_path / "bundle.tar")
    client = boto3.client("s3", endpoint_url=minio.endpoint_url)
    client.create_bucket(Bucket="old-keys")
    client.upload_file(str(tmp_path / "bundle.tar"), "old-keys", "decentralml/" + packed_hash.hex())
    backend = S3Storage("old-keys", endpoint_url=minio.endpoint_url)
    path = "old-keys/decentralml/" + packed_hash.hex()

    fetched = download_folder(backend, path, packed_hash, tmp_path / "fetched",
                              expected_size=(tmp_path / "bundle.tar").stat().st_size)

    assert tree(fetched) == tree(folder)
    with pytest.raises(IntegrityError, match=packed_hash.hex()):  # the key vouches for nothing
        download_folder(backend, path, hashlib.sha256(b"another").digest(), tmp_path / "other")
    assert not (tmp_path / "other").exists()


def test_ipfs_objects_are_pinned_cidv1(kubo, tmp_path):
    import requests

    src = tmp_path / "blob"
    src.write_bytes(os.urandom(600_000))  # more than one 256 KiB block
    stored = IpfsStorage(kubo.api_url).put_file(src)
    assert stored.path.startswith("bafy")
    pins = requests.post(
        f"{kubo.api_url}/api/v0/pin/ls", params={"arg": stored.path, "type": "recursive"}, timeout=10
    )
    assert pins.status_code == 200, pins.text


# --- unreachable services ---------------------------------------------------


def test_an_unreachable_ipfs_api_raises_storage_unavailable_naming_the_url(tmp_path):
    url = f"http://127.0.0.1:{free_port()}"
    src = tmp_path / "blob"
    src.write_bytes(b"x")
    with pytest.raises(StorageUnavailableError) as error:
        IpfsStorage(url).put_file(src)
    assert url in str(error.value) and "scripts/storage.sh up" in str(error.value)
    with pytest.raises(StorageUnavailableError):
        IpfsStorage(url).exists(raw_cid(b"x"))


def test_an_unreachable_s3_endpoint_raises_storage_unavailable_naming_the_url(tmp_path, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "unused")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "unused")
    url = f"http://127.0.0.1:{free_port()}"
    src = tmp_path / "blob"
    src.write_bytes(b"x")
    with pytest.raises(StorageUnavailableError) as error:
        S3Storage("bucket", endpoint_url=url).put_file(src)
    assert url in str(error.value) and "scripts/storage.sh up" in str(error.value)


# --- settings ---------------------------------------------------------------


def test_backend_from_settings_reads_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("DECENTRALML_IPFS_API", "http://127.0.0.1:5999")
    monkeypatch.setenv("DECENTRALML_S3_ENDPOINT", "http://127.0.0.1:9999")
    monkeypatch.setenv("DECENTRALML_S3_BUCKET", "from-env")
    monkeypatch.setenv("DECENTRALML_LOCAL_STORE", str(tmp_path / "store"))

    assert backend_from_settings("IPFS").api_url == "http://127.0.0.1:5999"
    s3 = backend_from_settings("s3")
    assert (s3.bucket, s3.endpoint_url) == ("from-env", "http://127.0.0.1:9999")
    assert backend_from_settings("Local").root == tmp_path / "store"
    assert backend_from_settings("S3", bucket="explicit").bucket == "explicit"


def test_backend_from_settings_rejects_unknown_types_and_settings():
    with pytest.raises(UserInputError, match="Crust"):
        backend_from_settings("Crust")
    with pytest.raises(UserInputError, match="secret_key"):
        backend_from_settings("S3", secret_key="no")


# --- packing ----------------------------------------------------------------


def test_packing_the_same_folder_twice_gives_the_same_bytes(tmp_path):
    folder = make_folder(tmp_path / "task")
    first = pack_folder(folder, tmp_path / "a.tar")
    second = pack_folder(folder, tmp_path / "b.tar")
    assert first == second == hashlib.sha256((tmp_path / "a.tar").read_bytes()).digest()
    assert (tmp_path / "a.tar").read_bytes() == (tmp_path / "b.tar").read_bytes()


def test_a_copy_with_other_mtimes_and_creation_order_packs_to_the_same_hash(tmp_path):
    folder = make_folder(tmp_path / "task")
    copy = tmp_path / "copy"
    copy.mkdir()
    # Create in reverse order, with other timestamps and a looser umask.
    for path in sorted(folder.rglob("*"), key=lambda p: p.as_posix(), reverse=True):
        target = copy / path.relative_to(folder)
        target.parent.mkdir(parents=True, exist_ok=True)
        if path.is_dir():
            target.mkdir(exist_ok=True)
        else:
            target.write_bytes(path.read_bytes())
            target.chmod(0o775 if os.access(path, os.X_OK) else 0o664)
        os.utime(target, (1_000_000, 1_000_000))
    (copy / "__pycache__").mkdir()
    (copy / "__pycache__" / "x.cpython-311.pyc").write_bytes(b"cache")

    assert pack_folder(folder, tmp_path / "a.tar") == pack_folder(copy, tmp_path / "b.tar")


def test_packing_keeps_the_exec_bit_and_leaves_out_pycache(tmp_path):
    folder = make_folder(tmp_path / "task")
    (folder / "__pycache__").mkdir()
    (folder / "__pycache__" / "x.pyc").write_bytes(b"cache")
    pack_folder(folder, tmp_path / "a.tar")
    with tarfile.open(tmp_path / "a.tar") as tar:
        members = {m.name: m for m in tar.getmembers()}
    assert not any("__pycache__" in name for name in members)
    assert members["train.sh"].mode == 0o755
    assert members["README.md"].mode == 0o644
    assert {(m.mtime, m.uid, m.gid, m.uname, m.gname) for m in members.values()} == {(0, 0, 0, "", "")}


def test_packing_refuses_a_symlink_pointing_outside_the_folder(tmp_path):
    folder = make_folder(tmp_path / "task")
    (tmp_path / "secret").write_text("not for the bundle")
    os.symlink(tmp_path / "secret", folder / "innocent")
    with pytest.raises(UserInputError, match="innocent"):
        pack_folder(folder, tmp_path / "a.tar")
    assert not (tmp_path / "a.tar").exists()


def test_packing_leaves_out_a_symlink_inside_the_folder_without_following_it(tmp_path):
    folder = make_folder(tmp_path / "task")
    os.symlink("README.md", folder / "alias")
    pack_folder(folder, tmp_path / "a.tar")
    with tarfile.open(tmp_path / "a.tar") as tar:
        assert "alias" not in tar.getnames()


# --- unsafe archives ----------------------------------------------------------


def _tar_with(tmp_path: Path, member: tarfile.TarInfo, data: bytes = b"") -> Path:
    """An archive with one harmless file, then ``member``."""
    archive = tmp_path / "evil.tar"
    with tarfile.open(archive, "w", format=tarfile.PAX_FORMAT) as tar:
        ok = tarfile.TarInfo("ok.txt")
        ok.size = 2
        tar.addfile(ok, io.BytesIO(b"ok"))
        member.size = len(data) if member.isreg() else 0
        tar.addfile(member, io.BytesIO(data) if member.isreg() else None)
    return archive


def _member(name: str, kind: bytes = tarfile.REGTYPE, linkname: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = linkname
    return info


@pytest.mark.parametrize(
    "member, why",
    [
        (_member("../escaped.txt"), "'..'"),
        (_member("sub/../../escaped.txt"), "'..'"),
        (_member("/tmp/decentralml-absolute.txt"), "absolute"),
        (_member("link", tarfile.SYMTYPE, "/etc/passwd"), "link"),
        (_member("hard", tarfile.LNKTYPE, "../../etc/passwd"), "link"),
        (_member("tty", tarfile.CHRTYPE), "device"),
        (_member("disk", tarfile.BLKTYPE), "device"),
        (_member("pipe", tarfile.FIFOTYPE), "FIFO"),
    ],
    ids=["dotdot", "nested-dotdot", "absolute", "symlink-out", "hardlink", "char-device", "block-device", "fifo"],
)
def test_unpacking_an_unsafe_archive_raises_and_extracts_nothing(tmp_path, member, why):
    archive = _tar_with(tmp_path, member, b"payload")
    dest = tmp_path / "out" / "bundle"

    with pytest.raises(IntegrityError, match=why) as error:
        unpack_archive(archive, dest)

    assert member.name in str(error.value)
    assert not dest.exists()
    assert leftovers(dest.parent) == []
    assert not (tmp_path / "escaped.txt").exists()
    assert not Path("/tmp/decentralml-absolute.txt").exists()


def test_unpacking_into_an_existing_folder_is_refused(tmp_path):
    archive = tmp_path / "a.tar"
    pack_folder(make_folder(tmp_path / "task"), archive)
    (tmp_path / "there").mkdir()
    with pytest.raises(UserInputError, match="already exists"):
        unpack_archive(archive, tmp_path / "there")


def test_unpacking_garbage_raises_integrity_error(tmp_path):
    archive = tmp_path / "garbage.tar"
    archive.write_bytes(os.urandom(5000))
    with pytest.raises(IntegrityError):
        unpack_archive(archive, tmp_path / "out")
    assert not (tmp_path / "out").exists()


# --- streaming --------------------------------------------------------------

_RSS_PROBE = textwrap.dedent(
    """
    import json, resource, sys
    from pathlib import Path
    from substrate_client.storage import backend_from_settings, download_folder, upload_folder
    from nacl.public import PrivateKey

    kind, setting, src, dest = sys.argv[1:5]
    key = {"IPFS": "api_url", "S3": "endpoint_url", "Local": "root"}[kind]
    backend = backend_from_settings(kind, **{key: setting}, **({"bucket": "rss"} if kind == "S3" else {}))
    backend.exists("bafkqaaa" if kind == "IPFS" else ("rss/warm-up" if kind == "S3" else "warm-up"))
    peak = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    before = peak()
    if Path(src).is_dir():  # a folder: pack, seal, upload, download, open, unpack
        private = PrivateKey.generate()
        stored = upload_folder(backend, Path(src), seal_to=bytes(private.public_key))
        download_folder(backend, stored.path, stored.content_hash, Path(dest), bytes(private))
    else:
        stored = backend.put_file(Path(src))
        backend.get_file(stored.path, Path(dest), stored.content_hash)
    print(json.dumps({"grew_kib": peak() - before, "size": stored.size}))
    """
)


@pytest.fixture(scope="module")
def big_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("big") / "weights.bin"
    with open(path, "wb") as f:
        for _ in range(50):
            f.write(os.urandom(1024 * 1024))
    return path


def _rss_probe(kind: str, setting: str, src: Path, dest: Path) -> dict:
    """Run the transfer in a fresh interpreter; report how much its peak RSS grew."""
    result = subprocess.run(
        [sys.executable, "-c", _RSS_PROBE, kind, setting, str(src), str(dest)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.mark.parametrize("kind", ["Local", "IPFS", "S3"])
def test_a_50_mb_file_streams_without_the_process_growing_30_mb(kind, big_file, tmp_path, request):
    setting = {
        "Local": lambda: str(tmp_path / "store"),
        "IPFS": lambda: request.getfixturevalue("kubo").api_url,
        "S3": lambda: request.getfixturevalue("minio").endpoint_url,
    }[kind]()

    report = _rss_probe(kind, setting, big_file, tmp_path / "back.bin")

    assert report["size"] == big_file.stat().st_size
    assert report["grew_kib"] < 30 * 1024, f"{kind}: peak RSS grew by {report['grew_kib']} KiB"
    assert (tmp_path / "back.bin").stat().st_size == big_file.stat().st_size


def test_a_sealed_50_mb_folder_packs_and_unpacks_without_the_process_growing_30_mb(big_file, tmp_path):
    folder = tmp_path / "result"
    folder.mkdir()
    os.link(big_file, folder / "weights.bin")

    report = _rss_probe("Local", str(tmp_path / "store"), folder, tmp_path / "back")

    assert report["grew_kib"] < 30 * 1024, f"peak RSS grew by {report['grew_kib']} KiB"
    assert (tmp_path / "back" / "weights.bin").stat().st_size == big_file.stat().st_size


# --- streamed S3 uploads ------------------------------------------------------

MiB = 1024 * 1024


def test_a_streamed_s3_upload_reads_the_folder_once_and_records_what_pack_folder_writes(
        minio, tmp_path, monkeypatch):
    folder = make_folder(tmp_path / "task")
    (folder / "big.bin").write_bytes(os.urandom(20 * MiB + 7))  # a multipart upload
    packed_hash = pack_folder(folder, tmp_path / "bundle.tar")
    backend = S3Storage("streamed", endpoint_url=minio.endpoint_url)
    moved = []
    passes = _count_passes(monkeypatch)

    stored = upload_folder(backend, folder, progress=moved.append)

    assert passes == [1]  # the tar is made once: hashed while it is sent
    assert re.fullmatch(r"streamed/decentralml/[0-9a-f]{32}\.dml", stored.path)
    assert stored.content_hash == packed_hash and stored.size == (tmp_path / "bundle.tar").stat().st_size
    assert sum(moved) == stored.size
    assert backend.get_file(stored.path, tmp_path / "back.tar", packed_hash).read_bytes() == \
        (tmp_path / "bundle.tar").read_bytes()
    again = upload_folder(backend, folder)
    assert again.path != stored.path and (again.content_hash, again.size) == (stored.content_hash, stored.size)


def _count_passes(monkeypatch) -> list[int]:
    """How many times a FolderTar is read to its end, as a one-item list."""
    import substrate_client.storage.bundle as bundle

    passes = [0]

    class CountingTar(FolderTar):
        def _chunks(self):
            yield from super()._chunks()
            passes[0] += 1

    monkeypatch.setattr(bundle, "FolderTar", CountingTar)
    return passes


def _change_during_the_upload(monkeypatch, change, after_chunk: int = 0):
    """Make ``change()`` happen once the upload has sent chunk ``after_chunk`` (of 1 MiB)."""
    import substrate_client.storage.bundle as bundle

    class ChangingTar(FolderTar):
        def _chunks(self):
            for i, chunk in enumerate(super()._chunks()):
                yield chunk
                if i == after_chunk:
                    change()

    monkeypatch.setattr(bundle, "FolderTar", ChangingTar)


def _nothing_left(client, bucket: str) -> None:
    keys = [o["Key"] for o in client.list_objects_v2(Bucket=bucket).get("Contents", [])]
    assert keys == []
    assert client.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


#: A chunk of the tar in the middle of b.bin (see _two_files), read once the first two
#: 8 MiB parts have been read and the multipart upload has started.
MID_B = 17


def _two_files(folder: Path) -> Path:
    """a.bin fills the first 12 chunks of the tar; b.bin starts in chunk 12."""
    folder.mkdir()
    (folder / "a.bin").write_bytes(os.urandom(12 * MiB))
    (folder / "b.bin").write_bytes(os.urandom(12 * MiB))
    return folder


def test_a_file_shrinking_mid_upload_leaves_no_object_and_no_unfinished_upload(minio, tmp_path, monkeypatch):
    bucket = "shrinks"
    folder = _two_files(tmp_path / "task")
    backend = S3Storage(bucket, endpoint_url=minio.endpoint_url)
    under_way = []

    def shrink():
        under_way.extend(backend._client.list_multipart_uploads(Bucket=bucket).get("Uploads", []))
        os.truncate(folder / "b.bin", MiB)

    _change_during_the_upload(monkeypatch, shrink, after_chunk=MID_B)

    with pytest.raises(StorageError, match="b.bin shrank"):
        upload_folder(backend, folder)

    assert len(under_way) == 1  # it failed mid-way through a multipart upload
    _nothing_left(backend._client, bucket)


@pytest.mark.parametrize("after_chunk", [0, MID_B], ids=["before-it-is-read", "while-it-is-read"])
def test_a_file_rewritten_mid_upload_fails_it_and_leaves_no_object_and_no_unfinished_upload(
        minio, tmp_path, monkeypatch, after_chunk):
    bucket = f"rewritten-{after_chunk}"
    folder = _two_files(tmp_path / "task")
    _change_during_the_upload(monkeypatch, lambda: (folder / "b.bin").write_bytes(os.urandom(12 * MiB)),
                              after_chunk)
    backend = S3Storage(bucket, endpoint_url=minio.endpoint_url)

    with pytest.raises(StorageError, match="b.bin changed while it was being packed"):
        upload_folder(backend, folder)

    _nothing_left(backend._client, bucket)


def test_an_upload_interrupted_with_ctrl_c_leaves_no_object_and_no_unfinished_upload(minio, tmp_path,
                                                                                    monkeypatch):
    """Ctrl-C reaches the main thread while parts are being sent."""
    import signal
    import threading

    main = threading.main_thread().ident
    folder = _two_files(tmp_path / "task")
    backend = S3Storage("interrupted", endpoint_url=minio.endpoint_url)
    under_way = []

    def interrupt():
        under_way.extend(backend._client.list_multipart_uploads(Bucket="interrupted").get("Uploads", []))
        signal.pthread_kill(main, signal.SIGINT)

    _change_during_the_upload(monkeypatch, interrupt, after_chunk=MID_B)
    # Ctrl-C's own handler for this run, whatever handler an earlier test or the runner
    # left for SIGINT.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt):
            upload_folder(backend, folder)
    finally:
        signal.signal(signal.SIGINT, previous)

    assert len(under_way) == 1  # interrupted mid-way through a multipart upload
    _nothing_left(backend._client, "interrupted")


def test_a_rewrite_the_file_times_cannot_show_still_gives_a_location_matching_the_stored_bytes(
        minio, tmp_path, monkeypatch):
    """On a file system whose times are too coarse to show a rewrite, the upload cannot
    tell: the archive may then mix old and new bytes, but the Location's sha256 and size
    are those of exactly the bytes stored, so its download checks out."""
    import substrate_client.storage.bundle as bundle

    folder = _two_files(tmp_path / "task")
    monkeypatch.setattr(bundle, "same_file_state", lambda before, after: True)
    _change_during_the_upload(monkeypatch, lambda: (folder / "b.bin").write_bytes(os.urandom(12 * MiB)),
                              after_chunk=MID_B)
    backend = S3Storage("coarse-times", endpoint_url=minio.endpoint_url)

    stored = upload_folder(backend, folder)

    bucket, key = stored.path.split("/", 1)
    body = backend._client.get_object(Bucket=bucket, Key=key)["Body"].read()
    assert (hashlib.sha256(body).digest(), len(body)) == (stored.content_hash, stored.size)
    fetched = download_folder(backend, stored.path, stored.content_hash, tmp_path / "fetched",
                              expected_size=stored.size)
    assert (fetched / "a.bin").read_bytes() == (folder / "a.bin").read_bytes()


def test_an_object_planted_under_a_content_key_does_not_stand_in_for_an_upload(minio, tmp_path):
    """Someone who can write to the bucket stores junk of the right size under the key a
    content-addressed scheme would give a known folder: the upload must still store the
    folder's bytes, so that what its Location names downloads."""
    folder = make_folder(tmp_path / "task")
    packed_hash = pack_folder(folder, tmp_path / "bundle.tar")
    size = (tmp_path / "bundle.tar").stat().st_size
    backend = S3Storage("planted", endpoint_url=minio.endpoint_url)
    client = boto3.client("s3", endpoint_url=minio.endpoint_url)
    client.create_bucket(Bucket="planted")
    client.put_object(Bucket="planted", Key="decentralml/" + packed_hash.hex(), Body=b"\0" * size)

    stored = upload_folder(backend, folder)

    assert stored.content_hash == packed_hash and stored.size == size
    fetched = download_folder(backend, stored.path, stored.content_hash, tmp_path / "fetched",
                              expected_size=stored.size)
    assert tree(fetched) == tree(folder)


def test_the_demo_meter_counts_a_folder_download_in_the_storage_phase(tmp_path):
    """download_folder reads through ``open_object``: the meter times that stream's reads."""
    from substrate_client.demo.metering import PhaseTimer, TimedBackend

    folder = make_folder(tmp_path / "task")
    (folder / "big.bin").write_bytes(os.urandom(8 * MiB))
    timer = PhaseTimer()
    backend = TimedBackend(LocalStorage(tmp_path / "store"), timer)
    stored = upload_folder(backend, folder)
    uploaded = timer.totals["storage"]

    with timer.phase("validation"):
        fetched = download_folder(backend, stored.path, stored.content_hash, tmp_path / "fetched")

    assert tree(fetched) == tree(folder)
    assert uploaded > 0 and timer.totals["storage"] > uploaded  # the download was counted
    assert timer.totals["validation"] > 0  # and unpacking between reads was not
    with pytest.raises(IntegrityError):  # a failed download still closes its stream
        download_folder(backend, stored.path, hashlib.sha256(b"x").digest(), tmp_path / "refused")
    assert not (tmp_path / "refused").exists() and timer._stack == []


# --- S3 downloads in parallel byte ranges --------------------------------------


@pytest.fixture
def small_ranges(monkeypatch):
    """S3 downloads in 64 KiB ranges, so a 2 MiB object takes many of them."""
    from substrate_client.storage import s3

    monkeypatch.setattr(s3, "RANGE_SIZE", 64 * 1024)
    return 64 * 1024


def counting_gets(backend: S3Storage, monkeypatch) -> list[str | None]:
    """The Range of every GET the backend sends from now on."""
    ranges: list[str | None] = []
    get_object = backend._client.get_object

    def counted(**kwargs):
        ranges.append(kwargs.get("Range"))
        return get_object(**kwargs)

    monkeypatch.setattr(backend._client, "get_object", counted)
    return ranges


def test_an_s3_object_of_many_ranges_downloads_byte_exact(minio, tmp_path, small_ranges, monkeypatch):
    backend = S3Storage("ranges", endpoint_url=minio.endpoint_url)
    src = tmp_path / "src.bin"
    src.write_bytes(os.urandom(2 * 1024 * 1024 + 12345))  # 32 full ranges and a short one
    stored = backend.put_file(src)
    gets = counting_gets(backend, monkeypatch)
    backend.get_file(stored.path, tmp_path / "dest.bin", stored.content_hash, expected_size=stored.size)
    assert (tmp_path / "dest.bin").read_bytes() == src.read_bytes()
    assert len(gets) == 33 and sorted(gets) == sorted(
        f"bytes={start}-{min(start + small_ranges, stored.size) - 1}"
        for start in range(0, stored.size, small_ranges))


@pytest.mark.parametrize("size", [0, 1, 64 * 1024])
def test_an_s3_object_no_larger_than_one_range_takes_one_get(minio, tmp_path, small_ranges, monkeypatch,
                                                             size):
    backend = S3Storage("ranges", endpoint_url=minio.endpoint_url)
    src = tmp_path / "src.bin"
    src.write_bytes(os.urandom(size))
    stored = backend.put_file(src)
    gets = counting_gets(backend, monkeypatch)
    backend.get_file(stored.path, tmp_path / "dest.bin", stored.content_hash, expected_size=size)
    assert (tmp_path / "dest.bin").read_bytes() == src.read_bytes()
    assert len(gets) == (2 if size == 0 else 1)  # an empty object has no byte range to ask for


@pytest.mark.parametrize("new_size", [2 * 1024 * 1024, 1024 * 1024, 3 * 1024 * 1024])
def test_an_s3_object_replaced_during_its_download_fails_without_mixing_versions(
        minio, tmp_path, small_ranges, new_size):
    backend = S3Storage("replaced", endpoint_url=minio.endpoint_url)
    old = os.urandom(2 * 1024 * 1024)
    src = tmp_path / "src.bin"
    src.write_bytes(old)
    stored = backend.put_file(src)
    bucket, _, key = stored.path.partition("/")
    read = b""
    with pytest.raises(IntegrityError, match="replaced while it was being downloaded"):
        with backend.open_object(stored.path, stored.content_hash, expected_size=stored.size) as stream:
            read += stream.read_chunk()
            boto3.client("s3", endpoint_url=minio.endpoint_url).put_object(
                Bucket=bucket, Key=key, Body=os.urandom(new_size))
            while chunk := stream.read_chunk():
                read += chunk
    assert len(read) < len(old) and old.startswith(read)  # only the first version's bytes came
