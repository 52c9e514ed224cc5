"""The replace-root-volume tasks and root-volume lineage kept per moto EC2 backend (account and region).

State lives on the moto backend object itself, so moto's reset (every `mock_aws` start) forgets it with the
rest of EC2.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field
from typing import Any, Literal

from moto.ec2.models import ec2_backends

from .ec2_timeline import FINAL_STATES, Timeline

TimeFormat = Literal["iso", "dotted"]


@dataclass
class Lineage:
    """What counts as "a snapshot of this instance's root volume", and where its launch state is."""

    root_device_name: str
    launch_snapshot_id: str | None
    root_volume_ids: set[str] = field(default_factory=set)  # every volume that has been the root
    snapshot_ids: set[str] = field(default_factory=set)  # launch and AMI root snapshots restored onto it

    def holds(self, snapshot: Any) -> bool:
        return snapshot.id in self.snapshot_ids or snapshot.volume.id in self.root_volume_ids


@dataclass(frozen=True)
class Request:
    """CreateReplaceRootVolumeTask's parameters that define the task (idempotency compares these)."""

    instance_id: str
    snapshot_id: str | None
    image_id: str | None
    volume_id: str | None
    delete_replaced_root_volume: bool
    volume_initialization_rate: int | None
    tags: tuple[tuple[str, str], ...]


@dataclass
class Task:
    id: str
    request: Request
    started_at: float
    timeline: Timeline
    time_format: TimeFormat
    # Set when something other than the clock ended the task (the instance stopped or was terminated).
    forced_state: str | None = None
    forced_at: float | None = None
    effects_applied: bool = False

    @property
    def instance_id(self) -> str:
        return self.request.instance_id

    def state(self, now: float | None = None) -> str:
        if self.forced_state is not None:
            return self.forced_state
        return self.timeline.state_at((time.time() if now is None else now) - self.started_at)

    def completed_at(self) -> float | None:
        if self.forced_at is not None:
            return self.forced_at
        duration = self.timeline.duration
        return None if duration is None else self.started_at + duration

    @property
    def is_final(self) -> bool:
        return self.state() in FINAL_STATES

    def to_api(self, tags: list[dict[str, str]]) -> dict[str, Any]:
        """The ReplaceRootVolumeTask structure, member names as in the botocore model."""
        out: dict[str, Any] = {
            "ReplaceRootVolumeTaskId": self.id,
            "InstanceId": self.instance_id,
            "TaskState": self.state(),
            "StartTime": format_time(self.started_at, self.time_format),
            "DeleteReplacedRootVolume": self.request.delete_replaced_root_volume,
        }
        completed = self.completed_at()
        if self.is_final and completed is not None:
            out["CompleteTime"] = format_time(completed, self.time_format)
        if tags:
            out["Tags"] = tags
        if self.request.image_id:
            out["ImageId"] = self.request.image_id
        if self.request.snapshot_id:
            out["SnapshotId"] = self.request.snapshot_id
        return out


def format_time(timestamp: float, style: TimeFormat) -> str:
    """Both shapes EC2 is seen to return for these string (not timestamp) members."""
    moment = dt.datetime.fromtimestamp(timestamp, tz=dt.UTC)
    if style == "iso":
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    return f"{moment:%Y-%m-%d %H:%M:%S}.{moment.microsecond // 100_000}"


@dataclass
class BackendState:
    tasks: dict[str, Task] = field(default_factory=dict)  # insertion order = creation order
    tokens: dict[str, str] = field(default_factory=dict)  # ClientToken -> task id
    lineages: dict[str, Lineage] = field(default_factory=dict)  # instance id -> lineage

    def next_time_format(self) -> TimeFormat:
        # Alternate deterministically so every test run sees both formats.
        return "iso" if len(self.tasks) % 2 == 0 else "dotted"


_ATTRIBUTE = "_sandbox_replace_root_volume"


def state_of(backend: Any) -> BackendState:
    state: BackendState | None = getattr(backend, _ATTRIBUTE, None)
    if state is None:
        state = BackendState()
        setattr(backend, _ATTRIBUTE, state)
    return state


def all_backends() -> list[Any]:
    """Every moto EC2 backend that exists now (moto creates them lazily per account and region)."""
    return [backend for account in list(ec2_backends.values()) for backend in list(account.values())]
