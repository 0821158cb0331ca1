"""How much a download or an archive from the other side may hold.

Each limit comes from the value given, then ``DECENTRALML_MAX_DOWNLOAD_BYTES``,
``DECENTRALML_MAX_ARCHIVE_MEMBERS`` and ``DECENTRALML_MAX_UNPACKED_BYTES``, then the
defaults below. Every backend and the archive reader check against them.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar, Mapping

from .. import config
from ..errors import ConfigError, UserInputError

GiB = 1024**3
#: The most bytes one download may bring: a bundle or a result, sealed or not.
DEFAULT_MAX_DOWNLOAD_BYTES = 4 * GiB
#: The most files and folders one archive may unpack to.
DEFAULT_MAX_ARCHIVE_MEMBERS = 10_000
#: The most bytes one archive may unpack to, all files together.
DEFAULT_MAX_UNPACKED_BYTES = 4 * GiB


@dataclasses.dataclass(frozen=True)
class StorageLimits:
    """How much a download or an archive from the other side may hold.

    Every field is a whole number above zero; an object or archive beyond one is
    refused with :class:`~substrate_client.errors.LimitExceededError` naming the
    setting, its environment variable and its value.
    """

    max_download_bytes: int = DEFAULT_MAX_DOWNLOAD_BYTES
    max_archive_members: int = DEFAULT_MAX_ARCHIVE_MEMBERS
    max_unpacked_bytes: int = DEFAULT_MAX_UNPACKED_BYTES

    #: Each limit and the environment variable it is read from
    #: (:data:`substrate_client.config.LIMITS_ENVIRONMENT`).
    ENVIRONMENT: ClassVar[Mapping[str, str]] = config.LIMITS_ENVIRONMENT

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            check_limit(getattr(self, field.name), field.name)

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None, **given: int | None
                         ) -> "StorageLimits":
        """The limits: each from ``given`` (if not None), then ``environ`` (default
        ``os.environ``), then the defaults. A malformed variable is a ConfigError naming it."""
        unknown = set(given) - set(cls.ENVIRONMENT)
        if unknown:
            raise TypeError(f"unknown limits {', '.join(sorted(unknown))}")
        texts = config.read_environment(cls.ENVIRONMENT, environ)
        values = {}
        for name, variable in cls.ENVIRONMENT.items():
            if given.get(name) is not None:
                values[name] = given[name]
            elif texts.get(name, "").strip():
                text = texts[name].strip().replace("_", "")
                if not (text.isascii() and text.isdigit()) or int(text) <= 0:
                    raise ConfigError(f"{variable} must be a whole number of "
                                      f"{'members' if 'members' in name else 'bytes'} above zero, "
                                      f"not {texts[name]!r}")
                values[name] = int(text)
        return cls(**values)

    def exceeded(self, name: str, what: str) -> str:
        """The end of an error message: ``what`` is beyond the limit ``name``."""
        return (f"{what} is more than {name} = {getattr(self, name)} allows "
                f"(raise it with {self.ENVIRONMENT[name]} if you trust the source)")


def check_limit(value, name: str) -> int:
    """``value`` if it is a whole number above zero (not a bool), else UserInputError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise UserInputError(f"{name} must be a whole number above zero, not {value!r}")
    return value
