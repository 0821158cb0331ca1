"""The contributor's long-running agent (``decentralml work``): it watches the chain for
tasks that pass its filters, takes a slot, trains in the sandbox on your data, sends the
result, and waits for the next task or round.

    from substrate_client.marketplace import Marketplace
    from substrate_client.agent import Agent, WorkFilters, StopWhen
    from substrate_client.contribute import DataSettings

    market = Marketplace.connect()                       # the signer: DECENTRALML_SURI
    agent = Agent(market, WorkFilters(campaign=0, min_reward=10**12),
                  work_dir="bob-work", data=DataSettings(shard_index=0, num_shards=3),
                  stop=StopWhen(max_rounds=5))
    summary = agent.run()                                # Ctrl-C: finish the slot, stop
"""

from .agent import Agent, AgentSummary, Backoff, Step, StopWhen
from .filters import WorkFilters
from .process import AgentProcess, work_command
from .slots import SlotRecord, WorkFolder

__all__ = ["Agent", "AgentProcess", "AgentSummary", "Backoff", "SlotRecord", "Step", "StopWhen",
           "WorkFilters", "WorkFolder", "work_command"]
