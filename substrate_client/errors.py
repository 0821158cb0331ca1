"""One exception hierarchy for everything the client can fail at.

Callers catch ``DecentralMLError`` for any failure, or a subclass for one kind.
The CLI maps ``UserInputError`` to exit code 2 and every other error to 1.
"""


class DecentralMLError(Exception):
    """Base of every error this package raises on purpose."""


class UserInputError(DecentralMLError):
    """The caller asked for something malformed or impossible (bad path, bad flag)."""


class ConfigError(UserInputError):
    """Settings or keys are missing or malformed."""


class ChainError(DecentralMLError):
    """The chain refused or failed a request."""


class ChainConnectionError(ChainError):
    """The node cannot be reached."""


class PalletError(ChainError):
    """A dispatch error raised by a pallet, carrying its name and documentation.

    ``name`` is the pallet's variant name (``NoSlotsLeft``), ``pallet`` the pallet
    (``DecentralML``) and ``docs`` the pallet's own description of the error.
    """

    def __init__(self, pallet: str, name: str, docs: str):
        self.pallet = pallet
        self.name = name
        self.docs = docs
        super().__init__(f"{name}: {docs}" if docs else name)


class StorageError(DecentralMLError):
    """A storage backend could not store or fetch an object."""


class StorageUnavailableError(StorageError):
    """The storage service cannot be reached."""


class IntegrityError(StorageError):
    """Fetched bytes do not match the hash recorded on-chain, or an archive is unsafe."""


class LimitExceededError(IntegrityError):
    """An object or archive from the other side is larger than a size limit allows
    (the message names the setting and its value)."""


class ReplayedResultError(IntegrityError):
    """A sealed result is not bound to the submission it is opened for: its binding names
    another chain, task, submission or contributor, or its signature does not verify."""


class UnsealedResultError(IntegrityError):
    """A result that had to be sealed (its task has a result key) is not."""


class ValidationError(DecentralMLError):
    """A result could not be validated (hook failed, model unreadable)."""


class FederationError(DecentralMLError):
    """Models could not be federated (mismatched architectures, no accepted models)."""


class NotFoundError(PalletError):
    """The task or submission named does not exist."""


class NotAuthorizedError(PalletError):
    """The signer is not the account allowed to do this (creator / assigned contributor)."""


class InsufficientFundsError(ChainError):
    """The signer cannot pay the escrow or the transaction fee."""

    def __init__(self, message: str, pallet: str = "", name: str = ""):
        self.pallet = pallet
        self.name = name
        super().__init__(message)
