"""The main job: one full federated round on the local dev chain, end to end.

It drives the library as its users would; nothing in the library imports it.

:func:`run_round` plays every part, each with its own dev account:

1. the dev chain and the storage daemons are made sure to run (or given as URLs);
2. the creator (Alice) generates a result key pair, builds the initial model and
   evaluates it on her held-out data, lays out the contributor bundle (the example
   task's ``model_contributor/`` plus the model at ``model/``, see :mod:`.example`) and creates a
   CustomAccept task on IPFS with one slot and one reward per contributor, results
   sealed to her key;
3. each contributor (Bob, Charlie, Dave honest; Eve a saboteur sending random
   weights) takes a slot, gets the verified bundle, runs its ``start_task.sh`` in the
   sandbox (:mod:`substrate_client.sandbox`: no secret in reach, no network) on its own
   IID shard of the data and sends the SavedModel it left to S3, sealed;
4. the creator validates every pending result through the one validation route
   (:mod:`substrate_client.validation`): downloaded, verified and opened, its weights
   restored into her own initial model (the result's graph is never loaded), evaluated
   on her held-out data and judged by the CustomAccept hook
   (the example's ``model_creator/hooks.py:accuracy_threshold``);
5. she federates only the accepted models into a federated SavedModel;
6. she accepts and rejects on-chain in one ``batch_all`` transaction and closes the
   task, which returns the rest of the escrow.

Balances (free and reserved) of every account are read before and after, and every
transaction's fee is recorded per signer, so the summary shows where each token
went. Time is split into phases (:data:`.metering.PHASES`).

One module a job: :mod:`.settings` (what to run, the command-line options),
:mod:`.services` (the dev chain, Kubo and MinIO, started unless they run),
:mod:`.example` (the example task shipped in the package), :mod:`.metering` (time per
phase, fees per signer), :mod:`.run` (the round), :mod:`.summary` (what it did) and
:mod:`.report` (summary.json, the chart and the text a person reads).

Run it with ``decentralml run_round`` (or ``scripts/run_round.sh``, which installs
what is missing first)::

    decentralml run_round --epochs 1 --policy average
"""

from .metering import PHASES
from .run import RoundError, run_round
from .settings import OPTIONS, RoundOption, RoundSettings, settings_from_options
from .summary import AccountOutcome, Balance, ContributorOutcome, RoundSummary

__all__ = ["PHASES", "OPTIONS", "AccountOutcome", "Balance", "ContributorOutcome", "RoundError",
           "RoundOption", "RoundSettings", "RoundSummary", "run_round", "settings_from_options"]
