"""Create, Update, Delete and their polls: the resource's behaviour, built from properties, ec2 and rules."""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from . import ec2
from .ec2 import Ec2Refusal, TaskView
from .logs import logger
from .outcomes import Done, ReplacementFailed, RetryLater, WaitFor
from .properties import InvalidProperties, ReplacementRequest, parse_properties, service_timeout_or_default
from .rules import (
    DESCRIBE_INTERVAL_SECONDS,
    LAMBDA_SAFETY_SECONDS,
    RECORD_TAG_KEY,
    SUCCEEDED,
    TaskRecord,
    UpdateKind,
    client_token,
    deadline_reason,
    failure_reason,
    instance_allowed,
    is_final,
    is_task_id,
    next_poll_at,
    plan_update,
    request_mark,
    request_started_at,
    required_tag,
    service_deadline,
    settings_fingerprint,
    wait_until,
)
from .waiting import retry_transient, wait_for_final_state

Event = Mapping[str, Any]
REQUIRED_INSTANCE_TAG_ENV = "REQUIRED_INSTANCE_TAG"  # "Key=Value" from the template's parameters, or empty


@dataclass(frozen=True)
class PollState:
    """What every poll needs to know, carried in CrHelperData (kept small: EventBridge Input is ≤ 8192 chars)."""

    TaskId: str
    InstanceId: str
    ReplacedRootVolumeId: str
    StartedAt: float
    ServiceTimeout: int
    PollingSince: float = 0.0

    @staticmethod
    def from_event(event: Event) -> PollState:
        data = dict(event.get("CrHelperData") or {})
        return PollState(
            TaskId=str(data["TaskId"]),
            InstanceId=str(data.get("InstanceId", "")),
            ReplacedRootVolumeId=str(data.get("ReplacedRootVolumeId", "")),
            StartedAt=float(data["StartedAt"]),
            ServiceTimeout=int(data["ServiceTimeout"]),
            PollingSince=float(data.get("PollingSince") or data["StartedAt"]),
        )


def _parse(event: Event) -> ReplacementRequest:
    try:
        return parse_properties(event.get("ResourceProperties"))
    except InvalidProperties as error:
        raise ReplacementFailed(f"Invalid properties: {error}") from error


def _time_left(context: Any) -> float:
    """Until when this invocation may keep trying, leaving time to schedule polling and answer."""
    remaining = float(context.get_remaining_time_in_millis()) / 1000
    return time.time() + remaining - LAMBDA_SAFETY_SECONDS


def _start(event: Event, request: ReplacementRequest, context: Any) -> WaitFor:
    """Record the current root volume, start the task (idempotently), and wait for it.

    EC2 throttles CreateReplaceRootVolumeTask at 5 per second per account (50 burst): a stack with hundreds of
    these resources has them queue. Throttled calls are retried until the invocation's time is nearly up; then
    the invocation ends with an error and Lambda delivers the request again a minute later (the ClientToken is the
    same, so at most one task starts). Throttling never fails the stack.
    """
    started_at = time.time()
    deadline = _time_left(context)
    try:
        instance = retry_transient(lambda: ec2.describe_instance(request.instance_id), deadline)
        required = required_tag(os.environ.get(REQUIRED_INSTANCE_TAG_ENV))
        if required is not None and not instance_allowed(instance.tags, required):
            raise ReplacementFailed(
                f"Instance {request.instance_id} does not carry the tag {required[0]}={required[1]}, which this "
                "provider requires (its RequiredInstanceTagKey and RequiredInstanceTagValue parameters); "
                "nothing was replaced."
            )
        replaced = instance.root_volume_id or ""
        token = client_token(event["StackId"], event["LogicalResourceId"], event["RequestId"])
        record = TaskRecord(settings_fingerprint(request), replaced or None, request=request_mark(token))
        task = retry_transient(lambda: _start_once(request, token, record), deadline)
    except Ec2Refusal as refusal:
        if refusal.is_transient:
            raise RetryLater(
                f"EC2 still answers {refusal.code} to {refusal.action} for instance {request.instance_id} after "
                f"{time.time() - started_at:.0f} s; Lambda will deliver the request again"
            ) from refusal
        raise ReplacementFailed(str(refusal)) from refusal
    logger.append_keys(TaskId=task.task_id)
    logger.info(
        "Replacement started",
        extra={"instance_id": request.instance_id, "source": request.source.describe(), "state": task.state},
    )
    # A redelivered request (Lambda retried it) keeps the deadline of its first delivery: the task's StartTime.
    started_at = request_started_at(started_at, task.start_time)
    state = PollState(task.task_id, request.instance_id, replaced, started_at, request.service_timeout)
    return WaitFor(task.task_id, asdict(state))


def _start_once(request: ReplacementRequest, token: str, record: TaskRecord) -> TaskView:
    """Start the task; a redelivered request gets the task it already started, never a second one.

    EC2 returns the same task for the same ClientToken and parameters. When this request's first delivery got
    further (the root volume it recorded has since been replaced, or the record was completed), the parameters
    differ and EC2 answers IdempotentParameterMismatch: the task carrying this request's mark is the one.
    """
    try:
        return ec2.start_task(request, token, record)
    except Ec2Refusal as refusal:
        if refusal.code != "IdempotentParameterMismatch" or record.request is None:
            raise
        existing = ec2.find_task(request.instance_id, record.request)
        if existing is None:
            raise
        logger.info("Redelivered request: continuing with the task it started", extra={"task": existing.task_id})
        return existing


def create(event: Event, context: Any) -> WaitFor:
    return _start(event, _parse(event), context)


def update(event: Event, context: Any) -> Done | WaitFor:
    request = _parse(event)
    physical_id = str(event.get("PhysicalResourceId", ""))
    current: TaskView | None = None
    if is_task_id(physical_id):
        try:
            current = retry_transient(lambda: ec2.describe_task(physical_id), _time_left(context))
        except Ec2Refusal as refusal:
            raise ReplacementFailed(str(refusal)) from refusal
    if current is None and not is_task_id(physical_id):
        # The resource never got a task (its Create failed and the stack kept it): this Update is the first try.
        return _start(event, request, context)
    settings = current.record.settings if current and current.record else _old_settings(event)
    plan = plan_update(request, settings, current.tags if current else {})
    logger.info("Update planned", extra={"plan": plan.kind.value, "physical_id": physical_id})
    if plan.kind is UpdateKind.REPLACE:
        return _start(event, request, context)
    if current is None:
        # EC2 no longer knows the task and nothing that forces a replacement changed: keep the resource as it is.
        logger.warning("Task not found on Update; nothing replaced", extra={"physical_id": physical_id})
        return Done(physical_id, {"TaskId": physical_id, "InstanceId": request.instance_id})
    logger.append_keys(TaskId=current.task_id)
    if plan.kind is UpdateKind.RETAG:
        task_id, deadline = current.task_id, _time_left(context)
        try:
            retry_transient(lambda: ec2.untag_task(task_id, plan.remove_tags), deadline)
            retry_transient(lambda: ec2.tag_task(task_id, plan.add_tags), deadline)
        except Ec2Refusal as refusal:
            raise ReplacementFailed(str(refusal)) from refusal
    return Done(current.task_id, attributes(current))


def _old_settings(event: Event) -> str | None:
    """Fingerprint of OldResourceProperties: the fallback when the task's own record cannot be read."""
    try:
        return settings_fingerprint(parse_properties(event.get("OldResourceProperties")))
    except InvalidProperties:
        return None


def poll_replacement(event: Event, context: Any) -> Done | None:
    """Poll for Create and Update: Done on success, ReplacementFailed on failure or deadline, None to go on."""
    state = PollState.from_event(event)
    logger.append_keys(TaskId=state.TaskId)
    deadline = service_deadline(state.StartedAt, state.ServiceTimeout)
    now = time.time()
    until = wait_until(now, state.PollingSince, now + context.get_remaining_time_in_millis() / 1000, deadline)
    try:
        # The start answered "pending" a moment ago: the first look is one describe interval after it.
        result = wait_for_final_state(
            lambda: ec2.describe_task(state.TaskId),
            until,
            not_before=state.StartedAt + DESCRIBE_INTERVAL_SECONDS,
            on_view=_log_state,
        )
    except Ec2Refusal as refusal:
        raise ReplacementFailed(str(refusal), _failure_id(event, state)) from refusal
    task = result.task
    if result.final and task is not None:
        if task.state != SUCCEEDED:
            reason = failure_reason(task.task_id, task.instance_id, task.state)
            raise ReplacementFailed(reason, _failure_id(event, state))
        try:
            # Within the window only: past it the next poll would be waiting too.
            new_root = retry_transient(lambda: ec2.root_volume_id(task.instance_id), until)
        except Ec2Refusal as refusal:
            if refusal.is_transient and not _last_look(state, deadline):
                logger.warning("New root volume not readable yet; the next poll answers", extra={"error": str(refusal)})
                return None
            logger.warning("Could not read the new root volume", extra={"error": str(refusal)})
            new_root = None
        return Done(task.task_id, _succeeded(task, state, new_root or ""))
    if _last_look(state, deadline):
        # No later look would come before the deadline: answer now, while CloudFormation still listens.
        last = task.state if task else "unknown to EC2"
        raise ReplacementFailed(
            deadline_reason(state.TaskId, state.InstanceId, last, state.ServiceTimeout), _failure_id(event, state)
        )
    return None


def _last_look(state: PollState, deadline: float) -> bool:
    """No later describe or poll would come before the deadline."""
    now = time.time()
    return now + DESCRIBE_INTERVAL_SECONDS > deadline or next_poll_at(now, state.PollingSince) > deadline


def _failure_id(event: Event, state: PollState) -> str | None:
    # A failed Create reports its task so the user can find it; a failed Update keeps the current id.
    return state.TaskId if event.get("RequestType") == "Create" else None


def _log_state(view: TaskView) -> None:
    logger.info("Task state", extra={"state": view.state})


def _succeeded(task: TaskView, state: PollState, new_root: str) -> dict[str, str]:
    record = task.record or TaskRecord("", state.ReplacedRootVolumeId or None)
    completed = TaskRecord(
        record.settings, record.replaced_root_volume_id or state.ReplacedRootVolumeId, new_root, record.request
    )
    if new_root and completed.settings:
        # Remember the new root on the task itself, so a later tags-only Update can report it again.
        try:
            ec2.tag_task(task.task_id, {RECORD_TAG_KEY: completed.encode()})
        except Ec2Refusal as refusal:
            logger.warning("Could not record the new root volume on the task", extra={"error": str(refusal)})
    logger.info("Replacement succeeded", extra={"new_root_volume_id": new_root})
    return attributes(task, completed)


def attributes(task: TaskView, record: TaskRecord | None = None) -> dict[str, str]:
    """The resource's Fn::GetAtt values; every value a string, as CloudFormation hands them on."""
    record = record or task.record
    return {
        "TaskId": task.task_id,
        "TaskState": task.state,
        "InstanceId": task.instance_id,
        "StartTime": task.start_time,
        "CompleteTime": task.complete_time,
        "ReplacedRootVolumeId": (record.replaced_root_volume_id or "") if record else "",
        "NewRootVolumeId": (record.new_root_volume_id or "") if record else "",
        "ImageId": task.image_id,
        "SnapshotId": task.snapshot_id,
        "DeleteReplacedRootVolume": "true" if task.delete_replaced_root_volume else "false",
    }


# -- Delete: undo nothing, never fail, but do not return while the replacement still runs -------------------


def delete(event: Event, _context: Any) -> Done | WaitFor:
    physical_id = str(event.get("PhysicalResourceId", "")) or "none"
    if not is_task_id(physical_id):
        return Done(physical_id)
    logger.append_keys(TaskId=physical_id)
    try:
        task = ec2.describe_task(physical_id)
    except Exception as error:  # a Delete never fails: log and let the stack go on
        logger.warning("Could not describe the task on Delete; nothing to wait for", extra={"error": str(error)})
        return Done(physical_id)
    if task is None or is_final(task.state):
        return Done(physical_id)
    timeout = service_timeout_or_default(event.get("ResourceProperties"))
    logger.info("Delete waits for the running replacement", extra={"state": task.state})
    state = PollState(physical_id, task.instance_id, "", time.time(), timeout)
    return WaitFor(physical_id, asdict(state))


def poll_delete(event: Event, context: Any) -> Done | None:
    physical_id = str(event.get("PhysicalResourceId", "")) or "none"
    try:
        outcome = poll_replacement(event, context)
    except ReplacementFailed as ended:
        # Failed or past its deadline: either way the Delete itself has nothing more to wait for.
        logger.warning("Delete done waiting", extra={"reason": str(ended)})
        return Done(physical_id)
    except Exception as error:
        logger.warning("Delete stops waiting after an error", extra={"error": str(error)})
        return Done(physical_id)
    return None if outcome is None else Done(physical_id)
