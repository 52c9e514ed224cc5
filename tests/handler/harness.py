"""Drive the real handler the way CloudFormation does, on the sandbox, and read what reached the ResponseURL."""

from __future__ import annotations

from typing import Any

from sandbox import aws_calls, ec2_model
from sandbox.driver import StackResource as Resource
from sandbox.lambda_runtime import RunResult

__all__ = ["Resource", "body", "lag", "replacements_started"]


def body(result: RunResult) -> dict[str, Any]:
    """The single response CloudFormation got for this request."""
    accepted = [r for r in result.responses if r.accepted]
    assert len(accepted) == 1, f"expected exactly one accepted response, got {[r.body for r in result.responses]}"
    assert isinstance(accepted[0].body, dict)
    return accepted[0].body


def lag(result: RunResult, task_id: str) -> float:
    """Seconds from the task's final state to CloudFormation's response."""
    task = next(t for t in ec2_model.tasks() if t.id == task_id)
    completed = task.completed_at()
    assert completed is not None
    accepted = [r for r in result.responses if r.accepted]
    return accepted[0].received_at - completed


def replacements_started() -> list[aws_calls.AwsCall]:
    return [c for c in aws_calls.calls() if c.operation == "CreateReplaceRootVolumeTask" and not c.faulted]
