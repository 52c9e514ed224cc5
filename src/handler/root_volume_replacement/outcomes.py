"""What a request or poll function hands back to the crhelper adapter."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Done:
    """Answer CloudFormation now: SUCCESS with this PhysicalResourceId and these attributes."""

    physical_id: str
    data: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class WaitFor:
    """Keep waiting (crhelper's polling); `state` travels to every poll as CrHelperData."""

    physical_id: str
    state: dict[str, Any]


class ReplacementFailed(Exception):
    """Answer FAILED with this Reason. `physical_id` overrides the id reported (e.g. the task of a failed Create)."""

    def __init__(self, reason: str, physical_id: str | None = None) -> None:
        super().__init__(reason)
        self.physical_id = physical_id


class RetryLater(Exception):
    """Answer nothing and end the invocation with an error, so that Lambda delivers the same event again (1 minute,
    then 2 minutes later). Only for work that is safe to repeat: a redelivered Create reuses its ClientToken."""
