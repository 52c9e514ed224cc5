"""CreateReplaceRootVolumeTask and DescribeReplaceRootVolumeTasks inside moto's EC2.

moto 5 dispatches an EC2 action to the EC2Response method named like it (snake_case) and serialises a returned
`ActionResult` from the botocore model, so boto3 parses real EC2 wire format. `install()` adds the two actions,
settles finished tasks before every EC2 request, and applies the moto fixes in `ec2_moto_patches`.
"""

from __future__ import annotations

import base64
import binascii
import secrets
import time
from typing import Any

from moto.core.responses import ActionResult
from moto.ec2.exceptions import EC2ClientError
from moto.ec2.responses import EC2Response

from . import ec2_moto_patches
from .ec2_effects import settle_backend
from .ec2_requests import check_feasible, check_token, error, parse_create
from .ec2_tasks import Task, all_backends, state_of
from .ec2_timeline import Timeline, reset_timelines, set_default_timeline, set_timeline, timeline_for

__all__ = [
    "Task",
    "Timeline",
    "install",
    "reset_timelines",
    "set_default_timeline",
    "set_timeline",
    "settle",
    "tasks",
]

MAX_RESULTS_RANGE = (1, 50)
_installed: list[bool] = []


def install() -> None:
    """Add the two actions to moto's EC2 (idempotent; affects every backend, present and future)."""
    if _installed:
        return
    ec2_moto_patches.install()
    EC2Response.create_replace_root_volume_task = _create_replace_root_volume_task
    EC2Response.describe_replace_root_volume_tasks = _describe_replace_root_volume_tasks
    original_call_action = EC2Response.call_action

    def call_action(self: Any) -> Any:
        settle_backend(self.ec2_backend)  # time may have moved since the last request: catch up first
        return original_call_action(self)

    EC2Response.call_action = call_action
    _installed.append(True)


def settle() -> None:
    """Apply every task that has reached its final state by now (requests do this on their own)."""
    for backend in all_backends():
        settle_backend(backend)


def tasks() -> list[Task]:
    """Every task in every account and region, oldest first, for assertions."""
    settle()
    found = [task for backend in all_backends() for task in state_of(backend).tasks.values()]
    return sorted(found, key=lambda task: task.started_at)


# -- the actions -----------------------------------------------------------------------------------------------
def _create_replace_root_volume_task(self: Any) -> Any:
    backend = self.ec2_backend
    request, token = parse_create(self._get_param)
    if self._get_param("DryRun", False):
        return _dry_run(self)
    task_id = check_token(backend, request, token)
    if task_id is None:
        check_feasible(backend, request)
        task_id = _start(backend, request, token).id
    task = state_of(backend).tasks[task_id]
    return ActionResult({"ReplaceRootVolumeTask": task.to_api(_tags(backend, task.id))})


def _start(backend: Any, request: Any, token: str | None) -> Task:
    state = state_of(backend)
    task = Task(
        id=f"replacevol-{secrets.token_hex(9)[:17]}",
        request=request,
        started_at=time.time(),
        timeline=timeline_for(request.instance_id),
        time_format=state.next_time_format(),
    )
    state.tasks[task.id] = task
    if token is not None:
        state.tokens[token] = task.id
    if request.tags:
        backend.create_tags([task.id], dict(request.tags))
    return task


def _describe_replace_root_volume_tasks(self: Any) -> Any:
    backend = self.ec2_backend
    ids: list[str] = self._get_param("ReplaceRootVolumeTaskIds", []) or []
    filters: dict[str, list[str]] = self._filters_from_querystring()
    max_results = self._get_param("MaxResults")
    next_token = self._get_param("NextToken")
    low, high = MAX_RESULTS_RANGE
    if max_results is not None and not low <= int(max_results) <= high:
        raise error(
            "InvalidParameterValue",
            f"Value ( {max_results} ) for parameter maxResults is invalid. Parameter must be between {low} and {high}.",
        )
    for name in filters:
        if name != "instance-id":
            raise error("InvalidParameterValue", f"The filter '{name}' is invalid")
    if self._get_param("DryRun", False):
        return _dry_run(self)
    state = state_of(backend)
    missing = [task_id for task_id in ids if task_id not in state.tasks]
    if missing:
        # The EC2 naming pattern for an unknown id of a resource type (no published code for this one).
        raise error(
            "InvalidReplaceRootVolumeTaskId.NotFound",
            f"The replace root volume task ID '{', '.join(missing)}' does not exist",
        )
    selected = [
        task
        for task in state.tasks.values()
        if (not ids or task.id in ids) and ("instance-id" not in filters or task.instance_id in filters["instance-id"])
    ]
    start = _decode_token(next_token, len(selected)) if next_token else 0
    end = len(selected) if max_results is None else start + int(max_results)
    result: dict[str, Any] = {
        "ReplaceRootVolumeTasks": [task.to_api(_tags(backend, task.id)) for task in selected[start:end]]
    }
    if end < len(selected):
        result["NextToken"] = _encode_token(end)
    return ActionResult(result)


# -- helpers -------------------------------------------------------------------------------------------------
def _tags(backend: Any, resource_id: str) -> list[dict[str, str]]:
    return [{"Key": key, "Value": value} for key, value in backend.tags.get(resource_id, {}).items()]


def _dry_run(response: Any) -> Any:
    # EC2 answers a successful DryRun with HTTP 412; moto's own DryRun errors use 400.
    dry = EC2ClientError("DryRunOperation", "Request would have succeeded, but DryRun flag is set.")
    _, headers, body = response.serialized(ActionResult(dry))
    headers["status"] = 412
    return body, headers


def _encode_token(offset: int) -> str:
    return base64.urlsafe_b64encode(f"replacevol-page:{offset}".encode()).decode()


def _decode_token(token: str, size: int) -> int:
    try:
        prefix, _, offset = base64.urlsafe_b64decode(token.encode()).decode().partition(":")
        if prefix == "replacevol-page" and 0 <= int(offset) <= size:
            return int(offset)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        pass
    raise error("InvalidPaginationToken", f"The pagination token '{token}' is invalid or has expired.")
