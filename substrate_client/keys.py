"""The X25519 key pair results are sealed to (see :mod:`substrate_client.sealing`).

A task creator generates a pair once, publishes the public key with the task and
keeps the private key file, which only its owner can read (mode 0600). Both
files hold the key as one line of hex. Key material is never logged.

Every file holding a secret (this private key, the signer's key file) is read with
:func:`read_private_file`, which refuses a file other users can read or write.
"""

from __future__ import annotations

import logging
import os
import shlex
import stat
from pathlib import Path

from nacl.public import PrivateKey

from .errors import ConfigError, UserInputError

log = logging.getLogger(__name__)

DEFAULT_KEY_PATH = Path("~/.config/decentralml/result_key")

KEY_BYTES = 32
#: A key file is a line or two; anything longer is not one.
MAX_KEY_FILE_BYTES = 64 * 1024
# The first line of a private key file, so it is never mistaken for a public key.
PRIVATE_MARKER = "# DecentralML result key: PRIVATE, never share this file"


def public_key_path(path: Path) -> Path:
    """Where the public half of the private key at ``path`` is written."""
    return Path(path).expanduser().with_suffix(".pub")


def generate_keypair(path: Path = DEFAULT_KEY_PATH) -> bytes:
    """Write a new private key to ``path`` (mode 0600) and its public key beside it.

    The public key goes to ``path.with_suffix('.pub')``. Refuses to overwrite
    either file. Returns the 32-byte public key.
    """
    path = Path(path).expanduser()
    pub_path = public_key_path(path)
    for existing in (path, pub_path):
        if existing.exists():
            raise UserInputError(f"{existing} already exists; not overwriting a key")
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    private = PrivateKey.generate()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise UserInputError(f"{path} already exists; not overwriting a key") from None
    with os.fdopen(fd, "w") as f:
        os.fchmod(f.fileno(), 0o600)  # whatever the umask
        f.write(PRIVATE_MARKER + "\n" + bytes(private).hex() + "\n")
    public = bytes(private.public_key)
    with open(pub_path, "x") as f:
        f.write(public.hex() + "\n")
    log.info("wrote a new result key pair: private %s, public %s", path, pub_path)
    return public


def load_private_key(path: Path = DEFAULT_KEY_PATH) -> bytes:
    """The 32-byte private key in the file at ``path``."""
    path = Path(path).expanduser()
    if not path.exists():
        raise ConfigError(f"no private key at {path}; create one with generate_keypair({str(path)!r})")
    return _decode(read_private_file(path, "the private key"), f"the private key file {path}")


def check_private_file(path: Path, what: str = "the key file") -> None:
    """Raise ConfigError unless only its owner can read or write the file at ``path``
    (mode 0600 or 0400), saying how to fix it (``chmod 600 FILE``)."""
    path = Path(path).expanduser()
    try:
        st = path.stat()
    except OSError as e:
        raise ConfigError(f"cannot read {what} {path}: {e.strerror or e}") from None
    _check_mode(st, path, what)


def read_private_file(path: Path, what: str = "the key file") -> str:
    """The text of the secret file at ``path``, if only its owner can read or write it.

    The mode is checked on the opened file, so it is the file that is read. Raises
    ConfigError (exit code 2 in the CLI) for a file others can read or write (saying
    ``chmod 600 FILE``), one that is missing, unreadable, not a regular file or
    longer than a key file is. The contents are never part of an error.
    """
    path = Path(path).expanduser()
    try:
        # Non-blocking, so a FIFO put in its place cannot hang us before the check below.
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK)
    except FileNotFoundError:
        raise ConfigError(f"{what} {path} does not exist") from None
    except OSError as e:
        raise ConfigError(f"cannot read {what} {path}: {e.strerror or e}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise ConfigError(f"{what} {path} is not a regular file")
        _check_mode(st, path, what)
        data = b""
        while len(data) <= MAX_KEY_FILE_BYTES and (piece := os.read(fd, MAX_KEY_FILE_BYTES + 1)):
            data += piece
    finally:
        os.close(fd)
    if len(data) > MAX_KEY_FILE_BYTES:
        raise ConfigError(f"{what} {path} is larger than a key file ({MAX_KEY_FILE_BYTES} bytes at most)")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"{what} {path} is not text") from None


def _check_mode(st: os.stat_result, path: Path, what: str) -> None:
    loose = stat.S_IMODE(st.st_mode) & (stat.S_IRWXG | stat.S_IRWXO)
    if loose:
        raise ConfigError(
            f"{what} {path} is open to other users "
            f"(mode {stat.S_IMODE(st.st_mode):04o}); a secret must be readable by you alone: "
            f"run `chmod 600 {shlex.quote(str(path))}`"
        )


def load_public_key(path_or_hex: str | Path | bytes) -> bytes:
    """A 32-byte public key from raw bytes, a 64-character hex string, or a ``.pub`` file."""
    if isinstance(path_or_hex, (bytes, bytearray)):
        if len(path_or_hex) != KEY_BYTES:
            raise ConfigError(f"a public key is {KEY_BYTES} bytes, got {len(path_or_hex)}")
        return bytes(path_or_hex)
    text = str(path_or_hex).strip()
    if not isinstance(path_or_hex, Path) and _looks_hex(text):
        return _decode(text, "the public key")
    path = Path(text).expanduser()
    try:
        content = path.read_text()
        if PRIVATE_MARKER in content:
            # Given the private file by mistake: publish only its public half.
            private = PrivateKey(_decode(content, f"the private key file {path}"))
            return bytes(private.public_key)
        return _decode(content, f"the public key file {path}")
    except FileNotFoundError:
        raise ConfigError(
            f"{path_or_hex!s} is neither a 64-character hex public key nor an existing file"
        ) from None
    except OSError as e:
        raise ConfigError(f"cannot read the public key at {path}: {e}") from None


def _looks_hex(text: str) -> bool:
    text = text.removeprefix("0x")
    return len(text) == 2 * KEY_BYTES and all(c in "0123456789abcdefABCDEF" for c in text)


def _decode(text: str, what: str) -> bytes:
    lines = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
    text = (lines[0] if lines else "").strip().removeprefix("0x")
    if not _looks_hex(text):
        # Say nothing about the contents: they may be key material.
        raise ConfigError(f"{what} does not hold a {KEY_BYTES}-byte key as hex")
    return bytes.fromhex(text)
