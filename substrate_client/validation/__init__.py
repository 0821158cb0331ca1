"""Validating contributors' results: ONE route for the CLI, the library and the main job.

::

    download -> verify -> open (unseal) -> restore weights into the creator's model
    -> evaluate -> decide (AutoAccept / ManualAccept / CustomAccept) -> submit

* :mod:`.route`: :func:`validate_task_results` runs the route for a task's pending
  results and :func:`submit_decisions` puts the decisions on-chain in one batch;
  :func:`download_results` receives accepted results for federation.
* :mod:`.results`: receiving one result (:func:`fetch_result`, :func:`open_result`,
  :func:`receive_result`) and restoring its weights into the creator's model
  (:class:`CreatorModel`, :func:`restore_result`). A result's graph is never loaded.
* :mod:`.evaluation`: metrics on the creator's held-out data.
* :mod:`.strategies`: :class:`Decision`, the strategies and the hooks they run.

Everything a caller needs is importable from ``substrate_client.validation``.
"""

from ..records import ValidationStrategy
from ..federation.metadata import read_result_metadata
from .evaluation import Evaluator, creator_evaluator, evaluate
from .results import (
    CreatorModel,
    check_result_key,
    fetch_result,
    find_model_dir,
    open_result,
    receive_result,
    restore_result,
)
from .route import (
    DownloadProgress,
    Review,
    clean_reason,
    download_results,
    submit_decisions,
    validate_task_results,
)
from .strategies import (
    ACCEPT,
    PENDING,
    REJECT,
    VERDICTS,
    AutoAccept,
    CustomAccept,
    Decision,
    Hook,
    IdDecider,
    ManualAccept,
    Strategy,
    decide_by_ids,
    decide_manually,
    load_hook,
    parse_strategy,
    run_hook,
)

__all__ = [
    # deciding
    "ACCEPT", "REJECT", "PENDING", "VERDICTS", "Decision", "ValidationStrategy", "parse_strategy",
    "Strategy", "AutoAccept", "ManualAccept", "CustomAccept",
    "Hook", "load_hook", "run_hook", "decide_manually", "decide_by_ids", "IdDecider",
    # evaluating
    "Evaluator", "evaluate", "creator_evaluator",
    # receiving a result
    "CreatorModel", "check_result_key", "fetch_result", "open_result", "receive_result",
    "find_model_dir", "read_result_metadata", "restore_result",
    # the route
    "Review", "DownloadProgress", "validate_task_results", "submit_decisions", "download_results",
    "clean_reason",
]
