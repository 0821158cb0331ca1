"""S3 and S3-compatible stores (AWS, MinIO) through boto3.

Credentials come only from boto3's own chain (``AWS_ACCESS_KEY_ID`` /
``AWS_SECRET_ACCESS_KEY``, ``AWS_PROFILE``, instance roles), never from
arguments.

Every upload gets a fresh key, ``prefix + <32 random hex digits> + ".dml"``; the
object's sha256 and size go into the :class:`StoredObject` it returns (what the
chain records, and what every download checks). Nothing trusts a key: an object
whose bytes were replaced fails its download's hash check whatever it is called.
So a folder's tar is sent as it is made, hashed on the way, in one pass (the hash
is known only at the end, and S3 cannot rename an object). What this gives up is
deduplication: storing the same bytes twice stores two objects. It also means a
key someone else filled beforehand is never taken for the upload. Objects stored
under the earlier content-hash keys (``prefix + sha256 hex``) download as before:
a download uses the recorded path, whatever its form.
"""

from __future__ import annotations

import itertools
import logging
import os
import secrets
import threading
from collections import deque
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Callable, Iterable, Iterator

import boto3
import botocore.exceptions
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from s3transfer.exceptions import RetriesExceededError, S3UploadFailedError

from ..errors import ConfigError, IntegrityError, StorageError, StorageUnavailableError, UserInputError
from .base import (CHUNK_SIZE, Progress, SizeLimitReached, StorageBackend, StoredObject, check_hash,
                   same_file_state, sha256_file)

log = logging.getLogger(__name__)

_MiB = 1024 * 1024

#: Multipart above 8 MiB, in 8 MiB parts. A file's parts are read from disk as they are
#: sent, MAX_CONCURRENCY at a time (s3transfer); a stream's are read into memory and sent
#: as they are made, at most STREAM_PARTS_IN_MEMORY of them at once; downloads are byte
#: ranges fetched in parallel (below). Memory stays a few parts (see
#: bench/analysis/storage.md for the measured peak RSS).
PART_SIZE = 8 * _MiB
MAX_CONCURRENCY = 8
STREAM_PARTS_IN_MEMORY = 4
TRANSFER_CONFIG = TransferConfig(
    multipart_threshold=PART_SIZE,
    multipart_chunksize=PART_SIZE,
    max_concurrency=MAX_CONCURRENCY,
    max_io_queue=8,
)
#: Downloads fetch byte ranges of RANGE_SIZE, RANGES_IN_FLIGHT at once, handed on in
#: order: at most RANGES_IN_FLIGHT ranges are held in memory besides the stream's queue.
RANGE_SIZE = 8 * _MiB
RANGES_IN_FLIGHT = 6

_NOT_FOUND = {"404", "NoSuchKey", "NotFound", "NoSuchBucket"}

#: What ends every key this client makes (after the prefix and 32 random hex digits).
KEY_SUFFIX = ".dml"


class S3Storage(StorageBackend):
    """Objects live in ``bucket`` under ``prefix``; ``path`` is ``bucket/key``."""

    storage_type = "S3"
    streams_uploads = True

    def __init__(
        self,
        bucket: str,
        endpoint_url: str | None = None,
        prefix: str = "decentralml/",
        region: str = "us-east-1",
    ):
        if not bucket or "/" in bucket:
            raise UserInputError(f"{bucket!r} is not an S3 bucket name")
        self.bucket = bucket
        self.endpoint_url = endpoint_url or None
        self.prefix = prefix
        self.region = region
        config = Config(
            region_name=region,
            connect_timeout=5,
            read_timeout=60,
            retries={"max_attempts": 3, "mode": "standard"},
            # MinIO and most self-hosted stores only serve path-style URLs.
            s3={"addressing_style": "path" if self.endpoint_url else "auto"},
        )
        self._client = boto3.session.Session().client(
            "s3", endpoint_url=self.endpoint_url, config=config
        )
        self._bucket_checked = False

    def __repr__(self) -> str:
        return f"S3Storage(bucket={self.bucket!r}, endpoint_url={self.endpoint_url!r})"

    @property
    def _where(self) -> str:
        return self.endpoint_url or f"AWS S3 ({self.region})"

    def put_file(
        self,
        local_path: Path,
        progress: Progress | None = None,
        content_hash: bytes | None = None,
    ) -> StoredObject:
        local_path = Path(local_path)
        try:
            before = os.stat(local_path)
            if content_hash is None:
                content_hash, _ = sha256_file(local_path)
            else:
                content_hash = check_hash(content_hash)
        except OSError as e:
            raise UserInputError(f"cannot read {local_path}: {e}") from e
        size = before.st_size
        key = self._new_key()

        def changed() -> str | None:
            try:
                if same_file_state(before, os.stat(local_path)):
                    return None
            except OSError:
                pass
            return f"{local_path} changed while it was being uploaded to S3; the object was deleted"

        # upload_file reads the parts from disk as they are sent (upload_fileobj would
        # read each part into memory first).
        self._store(key, lambda: size, lambda: self._client.upload_file(
            str(local_path), self.bucket, key, Config=TRANSFER_CONFIG, Callback=progress), changed)
        return StoredObject(self.storage_type, f"{self.bucket}/{key}", content_hash, size)

    def put_stream(self, chunks: Iterable[bytes], progress: Progress | None = None) -> str:
        # One pass: the bytes are hashed (by ``chunks``) as they are sent, under a fresh key.
        key = self._new_key()

        def changed() -> str | None:
            if chunks.complete:
                return None
            return f"the upload to s3://{self.bucket}/{key} ended before the whole stream was read"

        self._store(key, lambda: chunks.size, lambda: self._send_stream(key, chunks, progress), changed)
        return f"{self.bucket}/{key}"

    def _send_stream(self, key: str, chunks: Iterable[bytes], progress: Progress | None) -> None:
        """Send the stream in parts of ``PART_SIZE`` as it is read, up to
        ``STREAM_PARTS_IN_MEMORY`` of them at once, each part's bytes in one request (no
        file-like wrapper read 8 KiB at a time). Whatever stops it (the stream, the store,
        Ctrl-C) aborts the multipart upload once no part is in flight: nothing is left."""
        reader = _ChunkReader(chunks)
        first = reader.read(PART_SIZE)
        second = reader.read(PART_SIZE)
        if not second:  # one part: a plain PUT
            self._client.put_object(Bucket=self.bucket, Key=key, Body=first)
            if progress:
                progress(len(first))
            return
        upload_id = self._client.create_multipart_upload(Bucket=self.bucket, Key=key)["UploadId"]

        def send(number: int, body: bytes) -> dict:
            etag = self._client.upload_part(Bucket=self.bucket, Key=key, UploadId=upload_id,
                                            PartNumber=number, Body=body)["ETag"]
            if progress:
                progress(len(body))
            return {"PartNumber": number, "ETag": etag}

        pool = ThreadPoolExecutor(STREAM_PARTS_IN_MEMORY, thread_name_prefix="decentralml-upload")
        try:
            sent: list[dict] = []
            in_flight: set = set()
            parts = itertools.chain((first, second), iter(lambda: reader.read(PART_SIZE), b""))
            for number, body in enumerate(parts, start=1):
                if len(in_flight) >= STREAM_PARTS_IN_MEMORY:
                    finished, in_flight = wait(in_flight, return_when=FIRST_COMPLETED)
                    sent.extend(f.result() for f in finished)
                in_flight.add(pool.submit(send, number, body))
            sent.extend(f.result() for f in wait(in_flight)[0])
            pool.shutdown()
            self._client.complete_multipart_upload(
                Bucket=self.bucket, Key=key, UploadId=upload_id,
                MultipartUpload={"Parts": sorted(sent, key=lambda part: part["PartNumber"])})
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)  # no part may land after the abort
            try:
                self._client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)
            except Exception as e:  # noqa: BLE001 - the first error is the one to report
                log.warning("could not abort the multipart upload of s3://%s/%s (id %s): %s",
                            self.bucket, key, upload_id, e)
            raise

    def _new_key(self) -> str:
        """A key no one can guess or has used: 128 random bits under the prefix."""
        return f"{self.prefix}{secrets.token_hex(16)}{KEY_SUFFIX}"

    def _store(self, key: str, size: Callable[[], int], send: Callable[[], None],
               changed: Callable[[], str | None]) -> None:
        """``send()`` the bytes to the new ``key``; unless the store then holds ``size()``
        bytes there and ``changed()`` says nothing (it names what changed while they were
        sent), delete the object again and raise StorageError. A multipart upload that
        fails is aborted (by s3transfer for a file, by ``_send_stream`` for a stream):
        nothing is left of it."""
        with self._errors(f"upload to s3://{self.bucket}/{key}"):
            self._ensure_bucket()
            send()
            why = changed()
            if why is None:
                stored = self._head(self.bucket, key)
                if stored != size():
                    why = (f"s3://{self.bucket}/{key} holds {stored} bytes after the upload, "
                           f"not the {size()} sent")
            if why:
                self._client.delete_object(Bucket=self.bucket, Key=key)
                raise StorageError(why)

    def exists(self, path: str) -> bool:
        bucket, key = _split(path)
        with self._errors(f"look up s3://{path}"):
            return self._head(bucket, key) is not None

    def _chunks(self, path: str, max_bytes: int) -> Iterator[bytes]:
        """Byte ranges of ``RANGE_SIZE``, up to ``RANGES_IN_FLIGHT`` fetched at once, yielded
        strictly in order (so they can be hashed and unpacked as they arrive). The first
        range's GET tells the object's size and ETag; every other range is asked for with
        ``If-Match`` on that ETag, so an object replaced during the download fails it
        (IntegrityError) instead of mixing two versions' bytes. An object that fits in one
        range takes that one GET. Closing the generator cancels the ranges not yet started;
        those under way stop at their next piece."""
        bucket, key = _split(path)
        range_size = RANGE_SIZE
        stop = threading.Event()
        pool: ThreadPoolExecutor | None = None
        in_flight: deque = deque()
        with self._errors(f"download s3://{path}"):
            try:
                first = self._get(path, bucket, key, Range=f"bytes=0-{range_size - 1}")
            except botocore.exceptions.ClientError as e:
                if _code(e) not in {"InvalidRange", "416"}:
                    raise
                first = self._get(path, bucket, key)  # an empty object has no byte 0
            body = first["Body"]
            try:
                total = _total_size(first, path)
                if total > max_bytes:
                    raise SizeLimitReached(total)
                etag = first["ETag"]
                # A store that ignored the Range sent the whole object in this one answer.
                rest = range(range_size, total, range_size) if first.get("ContentRange") else ()
                starts = iter(rest)
                if rest:
                    pool = ThreadPoolExecutor(RANGES_IN_FLIGHT, thread_name_prefix="decentralml-download")

                def fill() -> None:
                    while len(in_flight) < RANGES_IN_FLIGHT and (start := next(starts, None)) is not None:
                        end = min(start + range_size, total) - 1
                        in_flight.append(pool.submit(self._get_range, path, bucket, key, etag,
                                                     start, end, total, stop))

                if pool is not None:
                    fill()
                got = 0
                while chunk := body.read(CHUNK_SIZE):
                    got += len(chunk)
                    yield chunk
                if got != first["ContentLength"]:
                    raise IntegrityError(f"s3://{path} sent {got} of the {first['ContentLength']} "
                                         "bytes it announced")
                while in_flight:
                    pieces = in_flight.popleft().result()
                    fill()
                    while pieces:
                        yield pieces.pop(0)  # dropped as soon as it is handed on
            finally:
                body.close()
                stop.set()
                if pool is not None:
                    pool.shutdown(wait=False, cancel_futures=True)

    def _get(self, path: str, bucket: str, key: str, **kwargs) -> dict:
        try:
            return self._client.get_object(Bucket=bucket, Key=key, **kwargs)
        except botocore.exceptions.ClientError as e:
            if _code(e) in _NOT_FOUND:
                raise StorageError(f"no object s3://{path} at {self._where}") from e
            # With If-Match, a range no longer inside the object means it shrank: replaced too.
            if _code(e) in {"PreconditionFailed", "412"} or (
                    "IfMatch" in kwargs and _code(e) in {"InvalidRange", "416"}):
                raise IntegrityError(f"s3://{path} was replaced while it was being downloaded; "
                                     "the download was stopped") from e
            raise

    def _get_range(self, path: str, bucket: str, key: str, etag: str, start: int, end: int,
                   total: int, stop: threading.Event) -> list[bytes]:
        """Bytes ``start``..``end`` (inclusive) of the version of the object tagged ``etag``,
        in the pieces they were read in (no copy)."""
        response = self._get(path, bucket, key, Range=f"bytes={start}-{end}", IfMatch=etag)
        body = response["Body"]
        try:
            expected = f"bytes {start}-{end}/{total}"
            if response.get("ContentRange") != expected or response.get("ETag") != etag:
                raise IntegrityError(
                    f"s3://{path} answered the range {start}-{end} of its {total} bytes with "
                    f"{response.get('ContentRange')!r}; the object changed or is not what it said")
            pieces, got = [], 0
            while not stop.is_set() and (piece := body.read(CHUNK_SIZE)):
                pieces.append(piece)
                got += len(piece)
            if not stop.is_set() and got != end - start + 1:
                raise IntegrityError(f"s3://{path} sent {got} bytes of its range "
                                     f"{start}-{end}, not {end - start + 1}")
            return pieces
        finally:
            body.close()

    def _head(self, bucket: str, key: str) -> int | None:
        """The object's size, or None if there is none."""
        try:
            return self._client.head_object(Bucket=bucket, Key=key)["ContentLength"]
        except botocore.exceptions.ClientError as e:
            if _code(e) in _NOT_FOUND:
                return None
            raise

    def _ensure_bucket(self) -> None:
        if self._bucket_checked:
            return
        try:
            self._client.head_bucket(Bucket=self.bucket)
        except botocore.exceptions.ClientError as e:
            if _code(e) not in _NOT_FOUND:
                raise
            log.info("creating S3 bucket %s at %s", self.bucket, self._where)
            kwargs = {}
            if self.region != "us-east-1":
                kwargs["CreateBucketConfiguration"] = {"LocationConstraint": self.region}
            try:
                self._client.create_bucket(Bucket=self.bucket, **kwargs)
            except botocore.exceptions.ClientError as e2:
                if _code(e2) not in {"BucketAlreadyOwnedByYou"}:
                    raise
        self._bucket_checked = True

    def _errors(self, doing: str):
        return _translate_errors(doing, self._where)


class _ChunkReader:
    """A file-like ``read`` over an iterable of chunks: each read returns exactly the bytes
    asked for (a part) until the end."""

    def __init__(self, chunks: Iterable[bytes]):
        self._chunks = iter(chunks)
        self._rest = b""

    def read(self, size: int = -1) -> bytes:
        parts, have = [self._rest] if self._rest else [], len(self._rest)
        while size < 0 or have < size:
            chunk = next(self._chunks, b"")
            if not chunk:
                break
            parts.append(chunk)
            have += len(chunk)
        data = b"".join(parts)
        if size < 0 or len(data) <= size:
            self._rest = b""
            return data
        self._rest = data[size:]
        return data[:size]


class _translate_errors:
    """Turns botocore's and s3transfer's exceptions into the package's, naming what was being done."""

    def __init__(self, doing: str, where: str):
        self.doing = doing
        self.where = where

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type, exc, tb) -> bool:
        if exc is None or not isinstance(exc, _BOTO_ERRORS):
            return False
        # s3transfer wraps client errors in its own, keeping the original as the context.
        cause = exc
        while isinstance(cause, _S3TRANSFER_ERRORS) and cause.__context__ is not None:
            cause = cause.__context__
        if isinstance(cause, _UNREACHABLE):
            raise StorageUnavailableError(
                f"cannot reach the S3 endpoint {self.where} to {self.doing}. Start MinIO with "
                "`scripts/storage.sh up`, or point DECENTRALML_S3_ENDPOINT at a running store."
            ) from exc
        if isinstance(cause, _NO_CREDENTIALS):
            raise ConfigError(
                "no S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE) "
                f"in the environment to {self.doing}"
            ) from exc
        if isinstance(cause, botocore.exceptions.ClientError) and _code(cause) in _REFUSED:
            raise ConfigError(
                f"{self.where} refused the S3 credentials from the environment ({_code(cause)}) "
                f"to {self.doing}"
            ) from exc
        raise StorageError(f"could not {self.doing} at {self.where}: {cause}") from exc


_S3TRANSFER_ERRORS = (RetriesExceededError, S3UploadFailedError)
_BOTO_ERRORS = (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) + _S3TRANSFER_ERRORS
_UNREACHABLE = (
    botocore.exceptions.EndpointConnectionError,
    botocore.exceptions.ConnectTimeoutError,
    botocore.exceptions.ReadTimeoutError,
)
_NO_CREDENTIALS = (botocore.exceptions.NoCredentialsError, botocore.exceptions.PartialCredentialsError)
_REFUSED = {"InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "403"}


def _total_size(response: dict, path: str) -> int:
    """The whole object's size from a GET's answer: ``ContentRange`` ("bytes a-b/total")
    for a ranged one, else ``ContentLength`` (a store that ignored the Range sends it all)."""
    content_range = response.get("ContentRange")
    if not content_range:
        return response["ContentLength"]
    total = content_range.rpartition("/")[2]
    if not total.isdigit():
        raise IntegrityError(f"s3://{path} answered a range with {content_range!r}, without its size")
    return int(total)


def _code(error: botocore.exceptions.ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def _split(path: str) -> tuple[str, str]:
    bucket, _, key = path.removeprefix("s3://").lstrip("/").partition("/")
    if not bucket or not key:
        raise UserInputError(f"{path!r} is not an S3 path of the form bucket/key")
    return bucket, key
