"""The main job: a federated training campaign on the local dev chain, end to end.

It drives the library as its users would; nothing in the library imports it.

:func:`run_round` plays every part, each with its own dev account:

1. the dev chain and the storage daemons are made sure to run (or given as URLs);
2. the creator (Alice) generates a result key pair, builds the initial model, lays out
   the contributor bundle (the example task's ``model_contributor/`` plus the model at
   ``model/``, see :mod:`.example`; non-IID shards by label by default) and plans a
   campaign (:class:`substrate_client.campaign.CampaignPlan`): a CustomAccept task per
   round, one slot per contributor, results sealed to her key;
3. each contributor (Bob, Charlie, Dave honest; Eve a saboteur sending random weights
   every round) starts a ``decentralml work`` agent of its own, signing with its own
   account (:mod:`.agents`): it takes a slot in each round's task, runs the bundle's
   ``start_task.sh`` in the sandbox on its own shard and sends the result;
4. the creator runs the rounds in this process (one warm TensorFlow) through
   :func:`substrate_client.campaign.run_campaign`: each round's bundle carries the model
   federated in the round before; results are judged as they arrive by the example's
   hook (``model_creator/hooks.py:accuracy_threshold``) on her held-out data, decided
   on-chain in one batch, the accepted ones federated, the task closed;
5. the agents are stopped, and the chain says where the money went, round by round
   (:mod:`.ledger`: balances at each round's end, fees from the fee events).

The summary shows per round each contributor's result, decision, payment and fees, the
held-out accuracy of every model, and the round's time split into training (the
contributors' ``start_task.sh``) and the rest. ``--rounds 1`` runs a single round.

One module a job: :mod:`.settings` (what to run, the command-line options),
:mod:`.services` (the dev chain, Kubo and MinIO, started unless they run),
:mod:`.example` (the example task shipped in the package), :mod:`.agents` (the
contributors' processes), :mod:`.metering` (the creator's time per phase),
:mod:`.ledger` (balances and fees from the chain), :mod:`.run` (the campaign),
:mod:`.summary` (what it did) and :mod:`.report` (summary.json, the chart and the text a
person reads).

Run it with ``decentralml run_round`` (or ``scripts/run_round.sh``, which installs
what is missing first)::

    decentralml run_round --rounds 3 --partition by_label
"""

from .metering import PHASES
from .run import RoundError, run_round
from .settings import OPTIONS, RoundOption, RoundSettings, settings_from_options
from .summary import (AccountOutcome, Balance, ContributorOutcome, RoundOutcome, RoundResult,
                      RunSummary)

__all__ = ["PHASES", "OPTIONS", "AccountOutcome", "Balance", "ContributorOutcome", "RoundError",
           "RoundOption", "RoundOutcome", "RoundResult", "RoundSettings", "RunSummary", "run_round",
           "settings_from_options"]
