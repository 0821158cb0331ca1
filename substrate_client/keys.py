"""The X25519 key pair results are sealed to (see :mod:`substrate_client.sealing`).

A task creator generates a pair once, publishes the public key with the task and
keeps the private key file, which only its owner can read (mode 0600). Both
files hold the key as one line of hex. Key material is never logged.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

from nacl.public import PrivateKey

from .errors import ConfigError, UserInputError

log = logging.getLogger(__name__)

DEFAULT_KEY_PATH = Path("~/.config/decentralml/result_key")

KEY_BYTES = 32
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
    try:
        mode = path.stat().st_mode
        text = path.read_text()
    except FileNotFoundError:
        raise ConfigError(
            f"no private key at {path}; create one with generate_keypair({str(path)!r})"
        ) from None
    except OSError as e:
        raise ConfigError(f"cannot read the private key at {path}: {e}") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        log.warning("private key %s can be read by other users; chmod 600 it", path)
    return _decode(text, f"the private key file {path}")


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
