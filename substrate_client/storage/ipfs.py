"""IPFS through a Kubo node's HTTP RPC API (``/api/v0``), with ``requests``.

ipfshttpclient refuses Kubo releases after 0.8, and the RPC API is small: ``add``
to upload (pinned, CIDv1 with raw leaves), ``cat`` to download, ``block/stat``
to ask whether the node has an object.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import uuid
from pathlib import Path
from typing import Iterable, Iterator

import requests
import urllib3

from ..errors import StorageError, StorageUnavailableError, UserInputError
from .base import (CHUNK_SIZE, Progress, SizeLimitReached, StorageBackend, StoredObject, check_hash,
                   same_file_state)

log = logging.getLogger(__name__)

DEFAULT_API_URL = "http://127.0.0.1:5001"


class IpfsStorage(StorageBackend):
    """Objects are pinned on the Kubo node at ``api_url``; ``path`` is the CID."""

    storage_type = "IPFS"

    def __init__(self, api_url: str = DEFAULT_API_URL, timeout: float = 60.0):
        self.api_url = api_url.rstrip("/")
        self.timeout = timeout
        self._session = requests.Session()
        self._downloads = requests.Session()  # in HTTP/1.0, see _Http10Adapter
        self._downloads.mount("http://", _Http10Adapter())
        self._downloads.mount("https://", _Http10Adapter())

    def __repr__(self) -> str:
        return f"IpfsStorage({self.api_url!r})"

    streams_uploads = True

    def put_file(
        self,
        local_path: Path,
        progress: Progress | None = None,
        content_hash: bytes | None = None,
    ) -> StoredObject:
        local_path = Path(local_path)
        if content_hash is not None:
            content_hash = check_hash(content_hash)
        try:
            body = _MultipartFile(local_path, progress, hash_it=content_hash is None)
        except OSError as e:
            raise UserInputError(f"cannot read {local_path}: {e}") from e
        with body:
            cid = self._add(body, body.content_type, str(local_path))
            if content_hash is not None and not body.unchanged():
                raise StorageError(f"{local_path} changed while it was being uploaded to IPFS")
        log.debug("added %s to IPFS as %s", local_path, cid)
        digest = content_hash if content_hash is not None else body.digest.digest()
        return StoredObject(self.storage_type, cid, digest, body.file_size)

    def put_stream(self, chunks: Iterable[bytes], progress: Progress | None = None) -> str:
        # The CID comes back from the node: the content hash is the caller's to compute.
        boundary = uuid.uuid4().hex
        head, tail = _multipart_framing(boundary)

        def body() -> Iterator[bytes]:  # sent with chunked transfer encoding
            yield head
            for chunk in chunks:
                if progress:
                    progress(len(chunk))
                yield chunk
            yield tail

        cid = self._add(body(), f"multipart/form-data; boundary={boundary}", "a stream")
        log.debug("added a stream to IPFS as %s", cid)
        return cid

    def _add(self, body, content_type: str, what: str) -> str:
        """POST ``body`` (a multipart form with one file) to ``add``; return the CID."""
        params = {
            "pin": "true",
            "cid-version": "1",
            "raw-leaves": "true",
            "hash": "sha2-256",
            "quieter": "true",
            "progress": "false",
        }
        response = self._post("add", params=params, data=body, headers={"Content-Type": content_type})
        cid = None
        for line in response.text.splitlines():
            if line.strip():
                cid = json.loads(line).get("Hash") or cid
        if not cid:
            raise StorageError(f"the IPFS node at {self.api_url} returned no CID for {what}")
        return cid

    def exists(self, path: str) -> bool:
        try:
            self._post("block/stat", params={"arg": _cid(path), "offline": "true"})
        except _KuboError:
            return False
        return True

    def _chunks(self, path: str, max_bytes: int) -> Iterator[bytes]:
        # The node sends at most one byte past the limit: enough to tell the object is larger.
        response = self._post("cat", params={"arg": _cid(path), "length": max_bytes + 1}, stream=True,
                              session=self._downloads)
        with response:
            announced = response.headers.get("X-Content-Length", "")
            if announced.isascii() and announced.isdigit() and int(announced) > max_bytes:
                raise SizeLimitReached(int(announced))
            try:
                while chunk := response.raw.read(CHUNK_SIZE, decode_content=True):
                    yield chunk
            except (requests.RequestException, urllib3.exceptions.HTTPError) as e:
                raise StorageError(f"download of {path} from {self.api_url} broke off: {e}") from e

    def _post(self, command: str, session: requests.Session | None = None, **kwargs) -> requests.Response:
        url = f"{self.api_url}/api/v0/{command}"
        try:
            response = (session or self._session).post(url, timeout=(5, self.timeout), **kwargs)
        except (requests.ConnectionError, requests.Timeout) as e:
            raise StorageUnavailableError(
                f"cannot reach the IPFS (Kubo) API at {self.api_url} ({type(e).__name__}). "
                "Start it with `scripts/storage.sh up`, or point DECENTRALML_IPFS_API at a running node."
            ) from e
        if response.status_code != 200:
            message = _error_message(response)
            response.close()
            if response.status_code == 404 or response.status_code == 405:
                raise StorageUnavailableError(
                    f"{self.api_url} does not answer like a Kubo RPC API ({response.status_code} on "
                    f"/api/v0/{command}); check DECENTRALML_IPFS_API"
                )
            raise _KuboError(f"IPFS {command} failed at {self.api_url}: {message}")
        return response


class _KuboError(StorageError):
    """The node answered a command with an error."""


class _Http10Connection(urllib3.connection.HTTPConnection):
    _http_vsn, _http_vsn_str = 10, "HTTP/1.0"


class _Https10Connection(urllib3.connection.HTTPSConnection):
    _http_vsn, _http_vsn_str = 10, "HTTP/1.0"


class _Http10Pool(urllib3.HTTPConnectionPool):
    ConnectionCls = _Http10Connection


class _Https10Pool(urllib3.HTTPSConnectionPool):
    ConnectionCls = _Https10Connection


class _Http10Adapter(requests.adapters.HTTPAdapter):
    """Requests in HTTP/1.0. Kubo answers ``cat`` in HTTP/1.1 chunks of a few KiB, which
    Python's HTTP client decodes one by one (1 GiB: ~260,000 chunks, about twice the time
    of the transfer itself); to HTTP/1.0 it sends the body as it is and then closes."""

    def init_poolmanager(self, *args, **kwargs):
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _Http10Pool, "https": _Https10Pool}


def _cid(path: str) -> str:
    cid = path.removeprefix("/ipfs/").strip("/")
    if not cid or "/" in cid:
        raise UserInputError(f"{path!r} is not an IPFS CID")
    return cid


def _error_message(response: requests.Response) -> str:
    try:
        return response.json().get("Message") or response.text
    except ValueError:
        return response.text.strip() or f"HTTP {response.status_code}"


def _multipart_framing(boundary: str) -> tuple[bytes, bytes]:
    """What goes before and after the file's bytes in a one-file ``multipart/form-data`` body."""
    head = (
        f"--{boundary}\r\n"
        'Content-Disposition: form-data; name="file"; filename="blob"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    return head, f"\r\n--{boundary}--\r\n".encode()


class _MultipartFile:
    """A ``multipart/form-data`` body with one file, read from disk as it is sent.

    ``requests`` would build a ``files=`` body in memory; this object has a
    length and a ``read``, so it is streamed with a Content-Length. It hashes
    the file's bytes as they go out.
    """

    def __init__(self, path: Path, progress: Progress | None, hash_it: bool = True):
        self._path = path
        self._file = open(path, "rb")
        self._stat = os.fstat(self._file.fileno())
        self.file_size = self._stat.st_size
        self._progress = progress
        self.digest = hashlib.sha256() if hash_it else None
        boundary = uuid.uuid4().hex
        self.content_type = f"multipart/form-data; boundary={boundary}"
        self._head, self._tail = _multipart_framing(boundary)
        self._pending = self._head
        self._file_done = False
        self._tail_sent = False
        self._sent_from_file = 0

    def unchanged(self) -> bool:
        """Whether the file was not modified since it was opened (all of it was sent)."""
        try:
            return same_file_state(self._stat, os.stat(self._path)) and self._file_done
        except OSError:
            return False

    def __len__(self) -> int:
        return len(self._head) + self.file_size + len(self._tail)

    def __enter__(self) -> "_MultipartFile":
        return self

    def __exit__(self, *exc) -> None:
        self._file.close()

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            size = CHUNK_SIZE
        if self._pending:
            out, self._pending = self._pending[:size], self._pending[size:]
            return out
        if not self._file_done:
            chunk = self._file.read(min(size, CHUNK_SIZE))
            if chunk:
                if self.digest is not None:
                    self.digest.update(chunk)
                self._sent_from_file += len(chunk)
                if self._progress:
                    self._progress(len(chunk))
                return chunk
            self._file_done = True
            if self._sent_from_file != self.file_size:
                raise StorageError("the file changed size while it was being uploaded")
        if not self._tail_sent:
            self._tail_sent = True
            self._pending = self._tail[size:]
            return self._tail[:size]
        return b""
