"""The baseline: what a user would write from crhelper's README to do the same job. Benchmark only, never deployed.

crhelper's defaults except what is needed to run (`polling_interval=2`, as the README's polling example; every
other CfnResource argument at its default: DEBUG logging, 120 s sleep on Delete). Create starts the task and keeps
its id; each poll describes the task once, returns its id when it succeeded and raises when it failed. The EC2
client is made at import, as AWS advises for Lambda and as crhelper users commonly do.
"""

from __future__ import annotations

from typing import Any

import boto3
from crhelper import CfnResource

helper = CfnResource(polling_interval=2)
ec2 = boto3.client("ec2")


def _start(properties: dict[str, Any]) -> None:
    request: dict[str, Any] = {"InstanceId": properties["InstanceId"]}
    for source in ("SnapshotId", "ImageId", "VolumeId"):
        if properties.get(source):
            request[source] = properties[source]
    if "DeleteReplacedRootVolume" in properties:
        request["DeleteReplacedRootVolume"] = str(properties["DeleteReplacedRootVolume"]).lower() == "true"
    task = ec2.create_replace_root_volume_task(**request)["ReplaceRootVolumeTask"]
    helper.Data["TaskId"] = task["ReplaceRootVolumeTaskId"]


@helper.create
def create(event: dict[str, Any], _context: Any) -> None:
    _start(event["ResourceProperties"])


@helper.update
def update(event: dict[str, Any], _context: Any) -> None:
    _start(event["ResourceProperties"])


@helper.delete
def delete(_event: dict[str, Any], _context: Any) -> None:
    """A replacement cannot be undone."""


@helper.poll_create
def poll_create(event: dict[str, Any], _context: Any) -> str | None:
    task_id = event["CrHelperData"]["TaskId"]
    described = ec2.describe_replace_root_volume_tasks(ReplaceRootVolumeTaskIds=[task_id])
    state = described["ReplaceRootVolumeTasks"][0]["TaskState"]
    if state == "succeeded":
        return str(task_id)
    if state in ("failed", "failed-detached"):
        raise RuntimeError(f"Root volume replacement {task_id} ended {state}")
    return None


helper.poll_update(poll_create)


def handler(event: dict[str, Any], context: Any) -> None:
    helper(event, context)
