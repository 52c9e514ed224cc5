"""Play CloudFormation's part for one custom resource across its life: Create, Updates, Delete.

It remembers the PhysicalResourceId and the properties between requests exactly as CloudFormation does (a
failed Update keeps the old ones), so tests, the demo and the benchmark send the same requests a stack would.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sandbox.lambda_runtime import RunResult
from sandbox.session import Sandbox


@dataclass
class StackResource:
    sb: Sandbox
    logical_id: str = "RootVolume"
    physical_id: str | None = None
    properties: dict[str, Any] = field(default_factory=dict)
    runtime_options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.stack = self.sb.stack()
        self.runtime = self.sb.runtime(**self.runtime_options)

    def create(self, properties: dict[str, Any]) -> RunResult:
        self.properties = properties
        result = self.runtime.run(self.stack.create(self.logical_id, properties))
        answer = final_body(result)
        if answer is not None:
            # A failed Create keeps the id it reported: CloudFormation sends it with the Delete that follows.
            self.physical_id = answer["PhysicalResourceId"]
        return result

    def update(self, properties: dict[str, Any]) -> RunResult:
        if self.physical_id is None:
            raise RuntimeError("update before create")
        result = self.runtime.run(self.stack.update(self.logical_id, self.physical_id, properties, self.properties))
        answer = final_body(result)
        if answer is not None and answer.get("Status") == "SUCCESS":
            self.physical_id, self.properties = answer["PhysicalResourceId"], properties
        return result

    def delete(self, physical_id: str | None = None) -> RunResult:
        event = self.stack.delete(self.logical_id, physical_id or self.physical_id or "", self.properties)
        return self.runtime.run(event)


def final_body(result: RunResult) -> dict[str, Any] | None:
    """The response CloudFormation took as the resource's result (the first accepted one), if any."""
    for response in result.responses:
        if response.accepted and isinstance(response.body, dict):
            return response.body
    return None
