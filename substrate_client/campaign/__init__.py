"""Training campaigns: one creator's chain of tasks, one per round, each round's bundle
carrying the model federated in the round before.

* :mod:`.plan`: :class:`CampaignPlan` (rounds, slots, results needed, reward, policy,
  server optimizer, hook, stopping rules, privacy), checked before anything is created;
* :mod:`.rounds`: :func:`run_campaign` and :func:`resume_campaign`, the round loop;
* :mod:`.collect`: a round's results judged as they arrive, silent slots freed;
* :mod:`.round_bundle`: a round's bundle; :mod:`.round_task`: its task on chain;
* :mod:`.model_state`: the global model and the optimizer's state per round;
* :mod:`.journal`: what the creator's machine remembers between runs;
* :mod:`.status` and :mod:`.summary`: what the campaign did, from the chain (and the journal).

::

    from substrate_client.campaign import CampaignPlan, run_campaign

    plan = CampaignPlan(bundle="my_task", creator_dir="assets/model_creator", rounds=5, slots=4,
                        min_results=3, reward=5 * 10**12, policy="median", optimizer="fedadam",
                        optimizer_params={"lr": 0.05}, hook="assets/model_creator/hooks.py:accuracy_threshold",
                        target_accuracy=0.9, patience=2, round_blocks=600)
    summary = run_campaign(market, plan, report=print)
"""

from .journal import CampaignJournal, Phase
from .plan import CampaignPlan, PrivacyPlan
from .rounds import CampaignError, resume_campaign, run_campaign
from .status import CampaignStatus, campaign_status
from .summary import CampaignSummary, ResultOutcome, RoundSummary

__all__ = [
    "CampaignPlan",
    "PrivacyPlan",
    "run_campaign",
    "resume_campaign",
    "campaign_status",
    "CampaignStatus",
    "CampaignSummary",
    "RoundSummary",
    "ResultOutcome",
    "CampaignJournal",
    "Phase",
    "CampaignError",
]
