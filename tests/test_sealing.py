"""Sealing files and bundles to a key pair, and handling the key files."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from substrateinterface import Keypair

from substrate_client import sealing
from substrate_client.errors import (ConfigError, IntegrityError, ReplayedResultError,
                                     UnsealedResultError, UserInputError)
from substrate_client.keys import generate_keypair, load_private_key, load_public_key
from substrate_client.sealing import ResultBinding, is_sealed, open_sealed_file, require_sealed, seal_file
from substrate_client.storage import LocalStorage, download_folder, upload_folder
from tests.test_storage import backend  # noqa: F401 (fixture: each backend on its real service)

CHUNK = sealing.CHUNK_SIZE
_PREFIX = 12 + 80 + 24  # preamble, sealed stream key, secretstream header
_BLOCK = CHUNK + 17  # one full encrypted chunk


ALICE = Keypair.create_from_uri("//Alice")
BOB = Keypair.create_from_uri("//Bob")
GENESIS = bytes.fromhex("ab" * 32)
OTHER_GENESIS = bytes.fromhex("cd" * 32)
#: Alice's result for submission 7 of task 3.
BINDING = ResultBinding.for_submission("0x" + GENESIS.hex(), 3, 7, ALICE.ss58_address)


@pytest.fixture
def keypair(tmp_path) -> tuple[bytes, bytes]:
    public = generate_keypair(tmp_path / "keys" / "result_key")
    return public, load_private_key(tmp_path / "keys" / "result_key")


def sealed_copy(tmp_path: Path, data: bytes, public: bytes, binding: ResultBinding = BINDING,
                signer=ALICE) -> Path:
    plain = tmp_path / "plain"
    plain.write_bytes(data)
    return seal_file(plain, tmp_path / "sealed", public, binding=binding, signer=signer)


def assert_refused(sealed: Path, private: bytes, tmp_path: Path, match: str,
                   expected: ResultBinding | None = BINDING, error=IntegrityError) -> None:
    dest = tmp_path / "opened"
    with pytest.raises(error, match=match):
        open_sealed_file(sealed, dest, private, expected_binding=expected)
    assert not dest.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


@pytest.mark.parametrize(
    "size", [0, 1, CHUNK - 1, CHUNK, 2 * CHUNK, 2 * CHUNK + 12345], ids=lambda n: f"{n}B"
)
def test_a_sealed_file_opens_to_the_same_bytes_with_the_right_key(tmp_path, keypair, size):
    public, private = keypair
    data = os.urandom(size)
    sealed = sealed_copy(tmp_path, data, public)

    assert is_sealed(sealed)
    if size >= 64:
        assert data[:64] not in sealed.read_bytes()
    assert open_sealed_file(sealed, tmp_path / "opened", private,
                            expected_binding=BINDING).read_bytes() == data


def test_an_ordinary_file_is_not_sealed(tmp_path):
    (tmp_path / "plain").write_bytes(b"just bytes")
    assert not is_sealed(tmp_path / "plain")


def test_looks_sealed_tells_a_sealed_object_from_a_tar_by_its_first_bytes(tmp_path, keypair):
    public, _ = keypair
    sealed = sealed_copy(tmp_path, b"payload", public)
    first = sealed.read_bytes()[:sealing.SEALED_PREFIX_BYTES]
    assert sealing.looks_sealed(first) and sealing.looks_sealed(memoryview(sealed.read_bytes()))
    assert not sealing.looks_sealed(first[:-1])  # too few bytes to tell
    assert not sealing.looks_sealed(b"")
    assert not sealing.looks_sealed(b"model/saved_model.pb\0")  # how a tar starts


def test_the_wrong_private_key_cannot_open_a_sealed_file(tmp_path, keypair):
    public, _ = keypair
    other = generate_keypair(tmp_path / "other_key")
    assert other != public
    sealed = sealed_copy(tmp_path, b"for the creator only", public)
    assert_refused(sealed, load_private_key(tmp_path / "other_key"), tmp_path, "not sealed to this key")


def test_a_flipped_byte_in_a_chunk_is_detected(tmp_path, keypair):
    public, private = keypair
    sealed = sealed_copy(tmp_path, os.urandom(CHUNK + 100), public)
    with open(sealed, "r+b") as f:
        f.seek(_PREFIX + _BLOCK + 10)  # inside the second chunk
        byte = f.read(1)
        f.seek(-1, os.SEEK_CUR)
        f.write(bytes([byte[0] ^ 1]))
    assert_refused(sealed, private, tmp_path, "chunk 1")


def test_a_sealed_file_missing_its_final_chunk_is_detected(tmp_path, keypair):
    public, private = keypair
    sealed = sealed_copy(tmp_path, os.urandom(2 * CHUNK + 5), public)
    with open(sealed, "r+b") as f:
        f.truncate(_PREFIX + 2 * _BLOCK)
    assert_refused(sealed, private, tmp_path, "cut short")


def test_reordered_chunks_are_detected(tmp_path, keypair):
    public, private = keypair
    sealed = sealed_copy(tmp_path, os.urandom(3 * CHUNK), public)
    raw = sealed.read_bytes()
    first, second = raw[_PREFIX : _PREFIX + _BLOCK], raw[_PREFIX + _BLOCK : _PREFIX + 2 * _BLOCK]
    sealed.write_bytes(raw[:_PREFIX] + second + first + raw[_PREFIX + 2 * _BLOCK :])
    assert_refused(sealed, private, tmp_path, "chunk 0")


@pytest.mark.parametrize("size", [5, CHUNK], ids=["short-final-chunk", "full-final-chunk"])
def test_data_appended_after_the_final_chunk_is_detected(tmp_path, keypair, size):
    public, private = keypair
    sealed = sealed_copy(tmp_path, os.urandom(size), public)
    with open(sealed, "ab") as f:
        f.write(b"extra")
    assert_refused(sealed, private, tmp_path, "altered|after its final chunk")


def test_a_sealed_bundle_round_trips_and_the_store_holds_only_ciphertext(tmp_path, keypair):
    public, private = keypair
    folder = tmp_path / "result"
    (folder / "model").mkdir(parents=True)
    (folder / "model" / "weights.bin").write_bytes(b"secret weights" * 1000)
    store = LocalStorage(tmp_path / "store")

    stored = upload_folder(store, folder, seal_to=public, binding=BINDING, signer=ALICE)

    assert is_sealed(store.root / stored.path)
    assert b"secret weights" not in (store.root / stored.path).read_bytes()
    out = download_folder(store, stored.path, stored.content_hash, tmp_path / "out",
                          private_key=private, expected_binding=BINDING)
    assert (out / "model" / "weights.bin").read_bytes() == b"secret weights" * 1000


def test_a_sealed_bundle_is_not_unpacked_without_the_right_key(tmp_path, keypair):
    public, _ = keypair
    generate_keypair(tmp_path / "other_key")
    folder = tmp_path / "result"
    folder.mkdir()
    (folder / "weights.bin").write_bytes(b"w")
    store = LocalStorage(tmp_path / "store")
    stored = upload_folder(store, folder, seal_to=public)

    with pytest.raises(UserInputError, match="sealed"):
        download_folder(store, stored.path, stored.content_hash, tmp_path / "out")
    with pytest.raises(IntegrityError, match=stored.path):
        download_folder(
            store, stored.path, stored.content_hash, tmp_path / "out",
            private_key=load_private_key(tmp_path / "other_key"),
        )
    assert not (tmp_path / "out").exists()


# --- binding a result to its submission --------------------------------------


def test_an_honest_result_opens_for_the_submission_it_was_sealed_for(tmp_path, keypair):
    public, private = keypair
    sealed = sealed_copy(tmp_path, b"alice's weights", public)

    opened = open_sealed_file(sealed, tmp_path / "opened", private, expected_binding=BINDING)

    assert opened.read_bytes() == b"alice's weights"
    assert BINDING.contributor == ALICE.public_key and BINDING.encode() not in sealed.read_bytes()


@pytest.mark.parametrize(
    "opened_as, differs",
    [
        (ResultBinding(GENESIS, 3, 8, ALICE.public_key), "submission_id"),
        (ResultBinding(GENESIS, 4, 7, ALICE.public_key), "task_id"),
        (ResultBinding(OTHER_GENESIS, 3, 7, ALICE.public_key), "genesis_hash"),
        (ResultBinding(GENESIS, 3, 7, BOB.public_key), "contributor"),
    ],
    ids=["another-submission", "another-task", "another-chain", "another-contributor"],
)
def test_a_result_opened_for_another_submission_is_refused_as_replayed(
        tmp_path, keypair, opened_as, differs):
    public, private = keypair
    sealed = sealed_copy(tmp_path, b"alice's weights", public)

    assert_refused(sealed, private, tmp_path, differs, expected=opened_as, error=ReplayedResultError)


class _Impostor:
    """Bob's own code: a keypair claiming Alice's account but signing with Bob's key."""

    crypto_type = BOB.crypto_type
    private_key = BOB.private_key
    public_key = ALICE.public_key

    def sign(self, message: bytes) -> bytes:
        return BOB.sign(message)


def test_a_result_bound_to_an_account_but_signed_by_another_is_refused(tmp_path, keypair):
    public, private = keypair
    sealed = sealed_copy(tmp_path, b"bob's weights", public, signer=_Impostor())

    assert_refused(sealed, private, tmp_path, "signature", error=ReplayedResultError)
    assert_refused(sealed, private, tmp_path, "signature", expected=None, error=ReplayedResultError)


def test_a_result_sealed_without_a_binding_is_refused_when_a_binding_is_expected(tmp_path, keypair):
    public, private = keypair
    plain = tmp_path / "plain"
    plain.write_bytes(b"weights")
    sealed = seal_file(plain, tmp_path / "sealed", public)

    assert_refused(sealed, private, tmp_path, "bound to no submission", error=ReplayedResultError)
    assert open_sealed_file(sealed, tmp_path / "opened", private).read_bytes() == b"weights"


def test_sealing_refuses_a_signer_that_is_not_the_bound_contributor(tmp_path, keypair):
    public, _ = keypair
    with pytest.raises(UserInputError, match="not the contributor"):
        sealed_copy(tmp_path, b"w", public, signer=BOB)
    with pytest.raises(UserInputError, match="both"):
        seal_file(tmp_path / "plain", tmp_path / "sealed", public, binding=BINDING)
    assert not (tmp_path / "sealed").exists()


def test_a_copied_result_is_refused_for_another_submission_through_each_backend(backend, tmp_path, keypair):
    public, private = keypair
    folder = tmp_path / "result"
    folder.mkdir()
    (folder / "weights.bin").write_bytes(os.urandom(50_000))
    stored = upload_folder(backend, folder, seal_to=public, binding=BINDING, signer=ALICE)
    # Bob records Alice's location and hash as the result of his submission 8.
    bobs = ResultBinding(GENESIS, 3, 8, BOB.public_key)

    with pytest.raises(ReplayedResultError, match="not for task 3, submission 8"):
        download_folder(backend, stored.path, stored.content_hash, tmp_path / "as-bob",
                        private_key=private, expected_binding=bobs, expected_size=stored.size)
    assert not (tmp_path / "as-bob").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]

    honest = download_folder(backend, stored.path, stored.content_hash, tmp_path / "as-alice",
                             private_key=private, expected_binding=BINDING, expected_size=stored.size)
    assert (honest / "weights.bin").read_bytes() == (folder / "weights.bin").read_bytes()


def test_an_unsealed_result_is_refused_when_its_task_has_a_result_key(tmp_path, keypair):
    _, private = keypair
    folder = tmp_path / "result"
    folder.mkdir()
    (folder / "weights.bin").write_bytes(b"in the clear")
    store = LocalStorage(tmp_path / "store")
    stored = upload_folder(store, folder)

    assert not is_sealed(store.root / stored.path)
    with pytest.raises(UnsealedResultError, match="not sealed"):
        require_sealed(store.root / stored.path)
    for kwargs in ({"expected_binding": BINDING}, {"require_sealed": True}):
        with pytest.raises(UnsealedResultError, match=stored.path):
            download_folder(store, stored.path, stored.content_hash, tmp_path / "out",
                            private_key=private, **kwargs)
        assert not (tmp_path / "out").exists()


def test_a_binding_is_built_from_what_the_chain_shows():
    assert BINDING == ResultBinding(GENESIS, 3, 7, ALICE.public_key)
    assert ResultBinding.for_submission(GENESIS, 3, 7, "0x" + ALICE.public_key.hex()) == BINDING
    assert ResultBinding.decode(BINDING.encode()) == BINDING and len(BINDING.encode()) == 88
    for bad in [dict(task_id=-1), dict(submission_id=2**64), dict(genesis_hash=b"short"),
                dict(contributor=b"x" * 31), dict(task_id=True)]:
        with pytest.raises(UserInputError):
            ResultBinding(**{**BINDING.__dict__, **bad})
    with pytest.raises(UserInputError, match="SS58"):
        ResultBinding.for_submission(GENESIS, 3, 7, "not-an-address")


# --- key files ----------------------------------------------------------------


def test_generate_keypair_writes_a_private_file_only_its_owner_can_read(tmp_path):
    path = tmp_path / "cfg" / "result_key"
    public = generate_keypair(path)

    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.with_suffix(".pub").read_text().strip() == public.hex()
    assert load_public_key(path.with_suffix(".pub")) == public
    assert load_public_key(public.hex()) == public
    assert load_public_key(public) == public
    assert len(load_private_key(path)) == 32


def test_generate_keypair_refuses_to_overwrite_a_key(tmp_path):
    path = tmp_path / "result_key"
    generate_keypair(path)
    before = path.read_bytes()
    with pytest.raises(UserInputError, match="already exists"):
        generate_keypair(path)
    assert path.read_bytes() == before


def test_a_malformed_key_file_is_a_config_error_that_does_not_echo_its_contents(tmp_path):
    path = tmp_path / "result_key"
    path.write_text("not-a-key-but-maybe-a-secret")
    with pytest.raises(ConfigError) as error:
        load_private_key(path)
    assert "maybe-a-secret" not in str(error.value)
    with pytest.raises(ConfigError):
        load_public_key(tmp_path / "missing.pub")
