"""Receiving a contributor's result: fetch and verify, open, unpack, restore into the creator's model.

A result is the other side's input. It is fetched and checked against the sha256
recorded on-chain (:func:`fetch_result`), opened with the creator's key
(:func:`open_result`), unpacked by the storage layer's safe unpacker, and then only
its variables are read (:func:`restore_result`): they are restored, by checkpoint
key, dtype and shape, into the creator's own model (:class:`CreatorModel`). A
result's graph (``saved_model.pb``, ``keras_metadata.pb``, Lambda layers, ops) is
never loaded, so nothing a contributor sends ever runs on the creator's side.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
from pathlib import Path
from typing import Any, Callable, Union

from .. import sealing
from .. import storage as storage_mod
from ..chain import same_account
from ..errors import ConfigError, UserInputError, ValidationError
from ..records import Submission, Task
from ..storage import Progress

log = logging.getLogger(__name__)

__all__ = [
    "CreatorModel",
    "fetch_result",
    "open_result",
    "receive_result",
    "find_model_dir",
    "restore_result",
    "check_result_key",
]

# --------------------------------------------------------------------------- the creator's model


class CreatorModel:
    """The creator's own model, which results' weights are restored into; loaded once,
    on first use (a result listed only to be rejected needs none).

    ``source`` is a Keras model, a SavedModel folder the creator made (loaded with
    :func:`substrate_client.federation.load_creator_model`), or a function returning a
    model. :meth:`from_task_bundle` takes the model in the task's own bundle.
    """

    def __init__(self, source: Union[Any, str, Path, Callable[[], Any]], description: str = ""):
        self._source = source
        self._model = None
        self._checked_evaluators: list[Callable[[Any], dict]] = []
        self.description = description or (str(source) if isinstance(source, (str, Path)) else "")

    @classmethod
    def from_task_bundle(cls, market, task: Task, work_dir: Path) -> "CreatorModel":
        """The model in the task's bundle (downloaded when first needed, verified against
        the hash on-chain), for the task's creator only: for anyone else the bundle is
        someone else's code, and loading its model would run it."""
        try:
            signer = market.chain.address
        except ConfigError:
            signer = None
        if signer is None or not same_account(signer, task.creator):
            raise UserInputError(
                f"the model of task {task.task_id}'s bundle is its creator's; as "
                f"{'no signer' if signer is None else signer} you must give the creator's model "
                "yourself (--template DIR)"
            )

        def load():
            bundle = Path(work_dir) / f"task_{task.task_id}_bundle"
            if not bundle.exists():
                market.download_bundle(task, bundle)
            model_dir = find_model_dir(bundle, what=f"task {task.task_id}'s bundle")
            from ..federation import load_creator_model

            return load_creator_model(model_dir)

        return cls(load, f"the model in task {task.task_id}'s bundle")

    def get(self):
        if self._model is None:
            source = self._source
            if isinstance(source, (str, Path)):
                from ..federation import load_creator_model

                self._model = load_creator_model(Path(source).expanduser())
            elif callable(source) and not _is_keras_model(source):
                self._model = source()
            else:
                self._model = source
        return self._model

    def check_evaluator(self, evaluator: Callable[[Any], dict]) -> dict | None:
        """The metrics ``evaluator`` gives the model before any result's weights are put
        in it: the creator's own evaluation must work before any result is judged. Once
        per evaluator: later calls return None (by then the model holds the weights of
        some result, and a campaign validates every few blocks)."""
        if any(checked is evaluator for checked in self._checked_evaluators):
            return None
        metrics = evaluator(self.get())
        self._checked_evaluators.append(evaluator)
        return metrics


def _is_keras_model(value: Any) -> bool:
    return hasattr(value, "weights") and hasattr(value, "predict")


# --------------------------------------------------------------------------- fetch, open, unpack


def check_result_key(task: Task, private_key: bytes | None) -> None:
    """Fail (ConfigError) before any download if the task's results are sealed to a key we do not hold."""
    if task.result_public_key is None:
        return
    if private_key is None:
        raise ConfigError(
            f"the results of task {task.task_id} are sealed to {task.result_public_key.hex()}; "
            "pass its private key file (--result-key-file)"
        )
    from nacl.public import PrivateKey

    if bytes(PrivateKey(private_key).public_key) != task.result_public_key:
        raise ConfigError(
            f"the private key given does not open task {task.task_id}'s results: they are sealed "
            f"to {task.result_public_key.hex()}"
        )


def fetch_result(market, submission: Submission, dest: Path, progress: Progress | None = None) -> Path:
    """Download the stored result of ``submission`` into the file ``dest``, checked against
    the sha256 recorded on-chain (IntegrityError otherwise; nothing is left at ``dest``)."""
    location = submission.result_location
    if location is None:
        raise ValidationError("the result has no stored folder (text only); there is no model to judge")
    backend = market.backend(location.storage_type)
    return backend.get_file(location.path, Path(dest), location.content_hash, progress,
                            expected_size=location.size)


def open_result(archive: Path, dest: Path, *, task: Task, submission: Submission,
                private_key: bytes | None, expected_binding: "sealing.ResultBinding | None" = None) -> Path:
    """The open step: decrypt the sealed result ``archive`` into the file ``dest``.

    The one place a result is decrypted. It must be sealed when the task has a result
    key (:class:`~substrate_client.errors.UnsealedResultError` otherwise), and is
    opened with the creator's ``private_key``; with ``expected_binding`` (the chain,
    task, submission and contributor it is opened for, see
    :class:`~substrate_client.sealing.ResultBinding`) it must be bound to exactly that
    and signed by that contributor. Returns the plain archive (``archive`` itself for
    a task without a result key).
    """
    archive = Path(archive)
    label = f"the result of submission {submission.submission_id}"
    if task.result_public_key is None:
        if sealing.is_sealed(archive):
            raise ValidationError(f"{label} is sealed, but task {task.task_id} has no result key "
                                  "to open it with")
        return archive
    sealing.require_sealed(archive, label=label)
    if private_key is None:
        raise ConfigError(f"the results of task {task.task_id} are sealed; pass the private key "
                          "they are sealed to")
    return sealing.open_sealed_file(archive, Path(dest), private_key,
                                    expected_binding=expected_binding, label=label)


def receive_result(market, task: Task, submission: Submission, dest: Path,
                   private_key: bytes | None = None, progress: Progress | None = None,
                   expected_binding: "sealing.ResultBinding | None" = None) -> Path:
    """Fetch and verify, open (:func:`open_result`) and unpack one result into the new
    folder ``dest``, within the storage layer's download and archive limits.

    Temporary files go beside ``dest`` and are removed whatever happens; ``dest``
    appears only when the result was unpacked whole.
    """
    dest = Path(dest)
    if dest.exists() or dest.is_symlink():
        raise UserInputError(f"{dest} already exists; receive results into a new folder")
    dest.parent.mkdir(parents=True, exist_ok=True)
    work = dest.parent / f".{dest.name}.receiving"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    try:
        stored = fetch_result(market, submission, work / "stored", progress)
        if expected_binding is None and task.result_public_key is not None:
            # Sealed results must be bound to this very submission: a copy of another
            # contributor's result, from this task or any other, is refused as replayed.
            expected_binding = market.result_binding(submission)
        archive = open_result(stored, work / "result.tar", task=task, submission=submission,
                              private_key=private_key, expected_binding=expected_binding)
        with contextlib.suppress(FileNotFoundError):
            if archive != stored:
                os.unlink(stored)
        return storage_mod.unpack_archive(archive, dest)  # within the storage limits
    finally:
        shutil.rmtree(work, ignore_errors=True)


# --------------------------------------------------------------------------- what is inside


def _has_checkpoint(folder: Path) -> bool:
    return (folder / "variables" / "variables.index").is_file()


def find_model_dir(folder: Path, what: str = "the result") -> Path:
    """The model inside a folder: the folder itself, or its one sub-folder holding one.

    A model is recognised by its checkpoint (``variables/variables.index``): that is
    all that is ever read of a result.
    """
    folder = Path(folder)
    if _has_checkpoint(folder):
        return folder
    found = sorted(p for p in folder.iterdir() if p.is_dir() and not p.is_symlink() and _has_checkpoint(p)) \
        if folder.is_dir() else []
    if len(found) == 1:
        return found[0]
    if not found:
        raise ValidationError(f"{what} holds no model (no variables/variables.index)")
    raise ValidationError(f"{what} holds {len(found)} models; expected one")


def restore_result(model, model_dir: Path):
    """Restore the result's weights in ``model_dir`` into the creator's ``model``
    (ValidationError naming the problem: extra, missing or differently shaped
    weights, values that are not finite, a malformed or oversized checkpoint)."""
    from ..errors import FederationError
    from ..federation import restore_result_weights

    try:
        return restore_result_weights(model, model_dir)
    except FederationError as error:
        raise ValidationError(str(error)) from None
