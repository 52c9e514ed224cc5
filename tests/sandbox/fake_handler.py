"""A tiny crhelper handler, for the sandbox's own tests only (the real one lives in src/handler/).

It is deliberately plain crhelper 2.0.12, defects included: Create/Update start a replace-root-volume task and
the poll functions finish when it ends. It must be imported inside a Sandbox: CfnResource creates its lambda,
events and logs clients in __init__, and the module creates its EC2 client at import, as a Lambda module does.
"""

from __future__ import annotations

from typing import Any

import boto3
from crhelper import CfnResource

helper = CfnResource(polling_interval=1, sleep_on_delete=0, log_level="INFO")
ec2 = boto3.client("ec2")


def _start(properties: dict[str, Any]) -> None:
    request: dict[str, Any] = {"InstanceId": properties["InstanceId"]}
    for source in ("SnapshotId", "ImageId", "VolumeId"):
        if properties.get(source):
            request[source] = properties[source]
    if "DeleteReplacedRootVolume" in properties:
        request["DeleteReplacedRootVolume"] = properties["DeleteReplacedRootVolume"] == "true"
    task = ec2.create_replace_root_volume_task(**request)["ReplaceRootVolumeTask"]
    helper.Data["TaskId"] = task["ReplaceRootVolumeTaskId"]


def _poll(event: dict[str, Any]) -> str | None:
    task_id = event["CrHelperData"]["TaskId"]
    task = ec2.describe_replace_root_volume_tasks(ReplaceRootVolumeTaskIds=[task_id])["ReplaceRootVolumeTasks"][0]
    state = task["TaskState"]
    if state == "succeeded":
        return str(task_id)
    if state in ("failed", "failed-detached"):
        raise RuntimeError(f"replacement {task_id} ended {state}")
    return None


@helper.create
def create(event: dict[str, Any], _context: Any) -> None:
    _start(event["ResourceProperties"])


@helper.update
def update(event: dict[str, Any], _context: Any) -> None:
    _start(event["ResourceProperties"])


@helper.delete
def delete(_event: dict[str, Any], _context: Any) -> None:
    """Nothing to undo: a replacement cannot be reverted."""


@helper.poll_create
def poll_create(event: dict[str, Any], _context: Any) -> str | None:
    return _poll(event)


@helper.poll_update
def poll_update(event: dict[str, Any], _context: Any) -> str | None:
    return _poll(event)


def handler(event: dict[str, Any], context: Any) -> None:
    helper(event, context)
