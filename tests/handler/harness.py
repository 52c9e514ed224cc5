"""Drive the real handler the way CloudFormation does, on the sandbox, and read what reached the ResponseURL."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sandbox import aws_calls, ec2_model
from sandbox.lambda_runtime import RunResult
from sandbox.session import Sandbox


@dataclass
class Resource:
    """One Custom::RootVolumeReplacement in a stack: remembers its physical id and properties between requests."""

    sb: Sandbox
    logical_id: str = "RootVolume"
    physical_id: str | None = None
    properties: dict[str, Any] = field(default_factory=dict)
    runtime_options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.stack = self.sb.stack()
        self.runtime = self.sb.runtime(**self.runtime_options)

    def _run(self, event: dict[str, Any]) -> RunResult:
        result = self.runtime.run(event)
        response = result.response
        if response is not None and isinstance(response.body, dict) and response.body.get("Status") == "SUCCESS":
            self.physical_id = response.body["PhysicalResourceId"]
        return result

    def create(self, properties: dict[str, Any]) -> RunResult:
        self.properties = properties
        result = self._run(self.stack.create(self.logical_id, properties))
        if result.response is not None and isinstance(result.response.body, dict):
            self.physical_id = result.response.body["PhysicalResourceId"]
        return result

    def update(self, properties: dict[str, Any]) -> RunResult:
        assert self.physical_id is not None
        event = self.stack.update(self.logical_id, self.physical_id, properties, self.properties)
        result = self._run(event)
        if result.status == "SUCCESS":
            self.properties = properties
        return result

    def delete(self, physical_id: str | None = None) -> RunResult:
        return self._run(self.stack.delete(self.logical_id, physical_id or self.physical_id or "", self.properties))


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
