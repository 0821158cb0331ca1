"""Which tasks the agent takes: the contributor's filters, checked against the task as
the chain holds it and its creator's record."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from ..chain import same_account
from ..errors import UserInputError
from ..records import CreatorRecord, Task, TaskStatus, TaskType, parse_enum


@dataclass(frozen=True)
class WorkFilters:
    """The tasks worth a slot. None (or 0) leaves a filter out.

    ``min_acceptance_rate`` reads the creator's record on the chain (results accepted
    over results decided); a creator who has decided no result yet has no rate and does
    not pass it."""

    campaign: int | None = None
    creator: str | None = None
    task_type: TaskType | str = TaskType.MODEL_CONTRIBUTOR
    min_reward: int = 0
    min_acceptance_rate: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "task_type", parse_enum(TaskType, self.task_type))
        if self.min_reward < 0:
            raise UserInputError("the minimum reward must be 0 or more")
        if self.min_acceptance_rate is not None and not 0 <= self.min_acceptance_rate <= 1:
            raise UserInputError("the minimum acceptance rate is a fraction from 0 to 1")
        if self.campaign is not None and self.campaign < 0:
            raise UserInputError("a campaign id is 0 or more")

    def refusal(self, task: Task, creator_record: Callable[[str], CreatorRecord],
                amount_text: Callable[[int], str] = str) -> str | None:
        """Why the task does not pass the filters, or None when it does. The creator's
        record is read (``creator_record(address)``) only when the other filters pass."""
        if task.status is not TaskStatus.OPEN:
            return "it is closed"
        if task.task_type is not self.task_type:
            return f"it is a {task.task_type.value} task, not {self.task_type.value}"
        if self.campaign is not None:
            lineage = task.lineage
            if lineage is None:
                return f"it is not a round of campaign {self.campaign}"
            if lineage.campaign != self.campaign:
                return f"it is a round of campaign {lineage.campaign}, not {self.campaign}"
        if self.creator is not None and not same_account(task.creator, self.creator):
            return f"its creator is {task.creator}, not {self.creator}"
        if task.pays_amount < self.min_reward:
            return (f"it pays {amount_text(task.pays_amount)}, less than the minimum "
                    f"{amount_text(self.min_reward)}")
        if self.min_acceptance_rate is not None:
            rate = creator_record(task.creator).acceptance_rate
            if rate is None:
                return "its creator has decided no result yet (no acceptance rate)"
            if rate < self.min_acceptance_rate:
                return (f"its creator accepts {rate:.0%} of results, less than the minimum "
                        f"{self.min_acceptance_rate:.0%}")
        return None

    def describe(self, amount_text: Callable[[int], str] = str) -> str:
        """The filters in words."""
        parts = [f"{self.task_type.value} tasks"]
        if self.campaign is not None:
            parts.append(f"of campaign {self.campaign}")
        if self.creator is not None:
            parts.append(f"by {self.creator}")
        if self.min_reward:
            parts.append(f"paying at least {amount_text(self.min_reward)}")
        if self.min_acceptance_rate is not None:
            parts.append(f"whose creator accepts at least {self.min_acceptance_rate:.0%} of results")
        return " ".join(parts)
