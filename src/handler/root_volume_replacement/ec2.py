"""Every EC2 call the resource makes, and the translation of EC2's errors into messages for the stack.

The client is created on first use, not at import: the EC2 service model is large and loading it at cold start
would slow every invocation, including the ones (Delete of a failed Create) that never call EC2.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from .properties import ReplacementRequest, SourceKind
from .rules import RECORD_TAG_KEY, TaskRecord

if TYPE_CHECKING:
    from mypy_boto3_ec2.client import EC2Client

# Standard mode retries throttling (RequestLimitExceeded) and 5xx with a short backoff: enough for a blip. Sustained
# throttling (EC2's buckets are per account: a fleet of resources shares them) is left to the callers, who know
# their deadline: the waiting loop slows its describes down, and the start keeps trying until the invocation's
# time is nearly up (see actions.py). More attempts here would only hide throttling from them and could sleep
# past the function's timeout.
_DESCRIBE_CONFIG = Config(retries={"mode": "standard", "total_max_attempts": 2}, connect_timeout=5, read_timeout=15)
_MUTATE_CONFIG = Config(retries={"mode": "standard", "total_max_attempts": 3}, connect_timeout=5, read_timeout=30)

THROTTLING_CODES = frozenset({"RequestLimitExceeded", "Throttling", "ThrottlingException", "RequestThrottled"})


class Ec2Refusal(Exception):
    """EC2 refused a call; the message carries EC2's code and its own words, for the stack's Reason."""

    def __init__(self, code: str, message: str, action: str) -> None:
        self.code = code
        self.action = action
        super().__init__(f"EC2 {action} failed: {code}: {message}")

    @property
    def is_throttling(self) -> bool:
        return self.code in THROTTLING_CODES

    @property
    def is_transient(self) -> bool:
        return self.is_throttling or self.code in {"InternalError", "ServiceUnavailable", "Unavailable"}


@dataclass(frozen=True)
class TaskView:
    """One DescribeReplaceRootVolumeTasks entry, as the resource needs it."""

    task_id: str
    instance_id: str
    state: str
    start_time: str = ""
    complete_time: str = ""
    image_id: str = ""
    snapshot_id: str = ""
    delete_replaced_root_volume: bool = False
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def record(self) -> TaskRecord | None:
        return TaskRecord.decode(self.tags.get(RECORD_TAG_KEY))

    @staticmethod
    def from_api(item: Any) -> TaskView:
        return TaskView(
            task_id=item["ReplaceRootVolumeTaskId"],
            instance_id=item.get("InstanceId", ""),
            state=item.get("TaskState", "unknown"),
            start_time=str(item.get("StartTime", "")),
            complete_time=str(item.get("CompleteTime", "")),
            image_id=item.get("ImageId", "") or "",
            snapshot_id=item.get("SnapshotId", "") or "",
            delete_replaced_root_volume=bool(item.get("DeleteReplacedRootVolume", False)),
            tags={t["Key"]: t.get("Value", "") for t in item.get("Tags", []) or []},
        )


@cache
def _client(kind: str) -> EC2Client:
    return boto3.client("ec2", config=_DESCRIBE_CONFIG if kind == "describe" else _MUTATE_CONFIG)


def reset_clients() -> None:
    """Forget cached clients (tests start a fresh sandbox per test)."""
    _client.cache_clear()


def _refusal(error: ClientError | BotoCoreError, action: str) -> Ec2Refusal:
    if isinstance(error, ClientError):
        err = error.response.get("Error", {})
        return Ec2Refusal(err.get("Code", "Unknown"), err.get("Message", str(error)), action)
    return Ec2Refusal(type(error).__name__, str(error), action)


@dataclass(frozen=True)
class InstanceView:
    instance_id: str
    root_volume_id: str | None  # None: no volume at the root device (after failed-detached)
    tags: dict[str, str] = field(default_factory=dict)


def describe_instance(instance_id: str) -> InstanceView:
    try:
        reservations = _client("describe").describe_instances(InstanceIds=[instance_id])["Reservations"]
    except (ClientError, BotoCoreError) as error:
        raise _refusal(error, "DescribeInstances") from error
    for reservation in reservations:
        for instance in reservation.get("Instances", []):
            root = instance.get("RootDeviceName")
            volume = next(
                (
                    m["Ebs"].get("VolumeId")
                    for m in instance.get("BlockDeviceMappings", [])
                    if m.get("DeviceName") == root and "Ebs" in m
                ),
                None,
            )
            tags = {t["Key"]: t.get("Value", "") for t in instance.get("Tags", []) or []}
            return InstanceView(instance_id, volume, tags)
    message = f"The instance ID '{instance_id}' does not exist"
    raise Ec2Refusal("InvalidInstanceID.NotFound", message, "DescribeInstances")


def root_volume_id(instance_id: str) -> str | None:
    """The volume attached at the instance's root device now, or None when it has none (failed-detached)."""
    return describe_instance(instance_id).root_volume_id


def start_task(request: ReplacementRequest, client_token: str, record: TaskRecord) -> TaskView:
    params: dict[str, Any] = {
        "InstanceId": request.instance_id,
        "DeleteReplacedRootVolume": request.delete_replaced_root_volume,
        "ClientToken": client_token,
        "TagSpecifications": [
            {
                "ResourceType": "replace-root-volume-task",
                "Tags": [{"Key": t.key, "Value": t.value} for t in request.tags]
                + [{"Key": RECORD_TAG_KEY, "Value": record.encode()}],
            }
        ],
    }
    source = request.source
    if source.kind is SourceKind.SNAPSHOT:
        params["SnapshotId"] = source.id
    elif source.kind is SourceKind.IMAGE:
        params["ImageId"] = source.id
    elif source.kind is SourceKind.VOLUME:
        params["VolumeId"] = source.id
    if request.volume_initialization_rate is not None:
        params["VolumeInitializationRate"] = request.volume_initialization_rate
    try:
        task = _client("mutate").create_replace_root_volume_task(**params)["ReplaceRootVolumeTask"]
    except (ClientError, BotoCoreError) as error:
        raise _refusal(error, "CreateReplaceRootVolumeTask") from error
    return TaskView.from_api(task)


def describe_task(task_id: str) -> TaskView | None:
    """The task, or None when EC2 does not know it (deleted history, another account, not a task id)."""
    try:
        tasks = _client("describe").describe_replace_root_volume_tasks(ReplaceRootVolumeTaskIds=[task_id])
    except ClientError as error:
        if "NotFound" in error.response.get("Error", {}).get("Code", "") or "Malformed" in error.response.get(
            "Error", {}
        ).get("Code", ""):
            return None
        raise _refusal(error, "DescribeReplaceRootVolumeTasks") from error
    except BotoCoreError as error:
        raise _refusal(error, "DescribeReplaceRootVolumeTasks") from error
    items = tasks.get("ReplaceRootVolumeTasks", [])
    return TaskView.from_api(items[0]) if items else None


def find_task(instance_id: str, request_mark: str) -> TaskView | None:
    """The instance's task started by the request with this mark (see TaskRecord.request), if any."""
    try:
        pages = (
            _client("describe")
            .get_paginator("describe_replace_root_volume_tasks")
            .paginate(Filters=[{"Name": "instance-id", "Values": [instance_id]}], PaginationConfig={"PageSize": 50})
        )
        for page in pages:
            for item in page.get("ReplaceRootVolumeTasks", []):
                view = TaskView.from_api(item)
                if view.record is not None and view.record.request == request_mark:
                    return view
    except (ClientError, BotoCoreError) as error:
        raise _refusal(error, "DescribeReplaceRootVolumeTasks") from error
    return None


def tag_task(task_id: str, tags: dict[str, str]) -> None:
    if not tags:
        return
    try:
        _client("mutate").create_tags(
            Resources=[task_id], Tags=[{"Key": key, "Value": value} for key, value in tags.items()]
        )
    except (ClientError, BotoCoreError) as error:
        raise _refusal(error, "CreateTags") from error


def untag_task(task_id: str, keys: tuple[str, ...]) -> None:
    if not keys:
        return
    try:
        _client("mutate").delete_tags(Resources=[task_id], Tags=[{"Key": key} for key in keys])
    except (ClientError, BotoCoreError) as error:
        raise _refusal(error, "DeleteTags") from error
