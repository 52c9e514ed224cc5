"""The resource's decisions as plain functions: no AWS, no crhelper, no clock of their own."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
from dataclasses import dataclass, field
from enum import Enum

from .properties import ReplacementRequest

# -- identities -------------------------------------------------------------------------------------------

TASK_ID_PREFIX = "replacevol-"
# One tag on each task the resource starts: which settings it was started with and which volume it replaced.
# It is what makes Update and rollback decisions possible (the task itself records neither) and lets a
# tags-only Update report the same attributes again.
RECORD_TAG_KEY = "rootvolumereplacement:record"


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def client_token(stack_id: str, logical_id: str, request_id: str) -> str:
    """Idempotency token for CreateReplaceRootVolumeTask: a redelivered request reuses the task it started."""
    return _digest("client-token", stack_id, logical_id, request_id)[:64]


def request_mark(token: str) -> str:
    return token[:16]


def failed_create_physical_id(stack_id: str, logical_id: str, request_id: str) -> str:
    """Physical id for a Create that failed before any task existed: stable across redeliveries, never a task id."""
    return f"rootvolumereplacement-failed-{_digest(stack_id, logical_id, request_id)[:16]}"


POLLING_NAME_PREFIX = "rvr-"  # the template's IAM policy scopes EventBridge rules to this prefix


def polling_name(logical_id: str, stack_id: str, request_id: str) -> str:
    """EventBridge rule name for one request's polling (the template grants rules named rvr-* once).

    Within EventBridge's 64 characters and [.-_A-Za-z0-9] for any logical id (crhelper appends 8 random
    characters to the whole logical id), and deterministic so a redelivered request reuses its rule.
    """
    readable = "".join(c for c in logical_id if c.isascii() and (c.isalnum() or c in "-_"))[:36]
    return f"{POLLING_NAME_PREFIX}{readable}-{_digest(stack_id, logical_id, request_id)[:16]}"


def is_task_id(physical_id: str | None) -> bool:
    return bool(physical_id) and str(physical_id).startswith(TASK_ID_PREFIX)


# -- what a task was started with ----------------------------------------------------------------------


def settings_fingerprint(request: ReplacementRequest) -> str:
    """Everything whose change means a new replacement; Tags and ServiceTimeout are not part of it."""
    settings = {
        "instance": request.instance_id,
        "source": [request.source.kind.value, request.source.id],
        "delete": request.delete_replaced_root_volume,
        "rate": request.volume_initialization_rate,
        "trigger": request.trigger,
    }
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class TaskRecord:
    settings: str
    replaced_root_volume_id: str | None = None
    new_root_volume_id: str | None = None
    # Which request started the task (a prefix of its ClientToken): lets a redelivered request find its task
    # when EC2 answers IdempotentParameterMismatch because the record has changed since.
    request: str | None = None

    def encode(self) -> str:
        parts = [f"settings={self.settings}"]
        if self.request:
            parts.append(f"request={self.request}")
        if self.replaced_root_volume_id:
            parts.append(f"replaced={self.replaced_root_volume_id}")
        if self.new_root_volume_id:
            parts.append(f"new={self.new_root_volume_id}")
        return " ".join(parts)

    @staticmethod
    def decode(value: str | None) -> TaskRecord | None:
        if not value:
            return None
        fields = dict(part.split("=", 1) for part in value.split() if "=" in part)
        if "settings" not in fields:
            return None
        return TaskRecord(fields["settings"], fields.get("replaced"), fields.get("new"), fields.get("request"))


def required_tag(setting: str | None) -> tuple[str, str] | None:
    """The provider's optional instance-tag restriction, "Key=Value" (empty: none)."""
    if not setting or "=" not in setting:
        return None
    key, value = setting.split("=", 1)
    return (key, value) if key else None


def instance_allowed(instance_tags: dict[str, str], required: tuple[str, str]) -> bool:
    return instance_tags.get(required[0]) == required[1]


# -- what an Update means ------------------------------------------------------------------------------


class UpdateKind(Enum):
    REPLACE = "replace"  # start a new task: a new PhysicalResourceId
    RETAG = "retag"  # same task, its tags change
    NOTHING = "nothing"  # same task, no EC2 mutation


@dataclass(frozen=True)
class UpdatePlan:
    kind: UpdateKind
    add_tags: dict[str, str] = field(default_factory=dict)
    remove_tags: tuple[str, ...] = ()


def plan_update(new: ReplacementRequest, current_settings: str | None, current_tags: dict[str, str]) -> UpdatePlan:
    """Compare the requested settings with those of the task the PhysicalResourceId names.

    Comparing with the task, not with OldResourceProperties, is what makes rollbacks safe: when CloudFormation
    rolls back a failed Update it sends the old properties again, which equal the current task's, so nothing
    starts. `current_settings` is None only when the task's record cannot be read (then the caller passes the
    fingerprint of OldResourceProperties instead).
    """
    if current_settings is None or settings_fingerprint(new) != current_settings:
        return UpdatePlan(UpdateKind.REPLACE)
    wanted = new.tag_map
    user_tags = {k: v for k, v in current_tags.items() if k != RECORD_TAG_KEY}
    add = {k: v for k, v in wanted.items() if user_tags.get(k) != v}
    remove = tuple(sorted(k for k in user_tags if k not in wanted))
    if add or remove:
        return UpdatePlan(UpdateKind.RETAG, add, remove)
    return UpdatePlan(UpdateKind.NOTHING)


# -- task states ----------------------------------------------------------------------------------------

SUCCEEDED = "succeeded"
FAILED_STATES = frozenset({"failed", "failed-detached"})


def is_final(state: str) -> bool:
    """Final states are the three the docs name; anything else (failing-detached, a future state) is running."""
    return state == SUCCEEDED or state in FAILED_STATES


def failure_reason(task_id: str, instance_id: str, state: str) -> str:
    if state == "failed-detached":
        return (
            f"Root volume replacement {task_id} on instance {instance_id} ended in failed-detached: the instance "
            "now has NO root volume attached and will not boot. Attach a root volume (the original one was kept "
            "and is available) at the instance's root device name, then start or reboot it; or replace it again."
        )
    return (
        f"Root volume replacement {task_id} on instance {instance_id} ended in {state}: EC2 could not replace the "
        "root volume; the original root volume is still attached. Check the source (snapshot, AMI or volume) and "
        "the instance, then change Trigger to try again."
    )


def deadline_reason(task_id: str, instance_id: str, state: str, service_timeout: int) -> str:
    return (
        f"Root volume replacement {task_id} on instance {instance_id} did not finish within ServiceTimeout "
        f"({service_timeout} s); it was last {state}. EC2 cannot cancel it and it may still complete: check "
        "DescribeReplaceRootVolumeTasks, and raise ServiceTimeout for long replacements."
    )


# -- how long to wait ------------------------------------------------------------------------------------

POLL_PERIOD_SECONDS = 60  # crhelper's rate(1 minute): EventBridge's finest schedule
DESCRIBE_INTERVAL_SECONDS = 4.0  # 15 describes per minute of waiting, at most 4 s between task end and news
# When EC2 throttles describes (its bucket, 100 burst / 20 per s, is shared by the whole account), the interval
# doubles up to this ceiling and comes back by this factor on every describe EC2 answers: 500 resources waiting
# at once fit in 20 describes per second at about 25 s each.
MAX_DESCRIBE_INTERVAL_SECONDS = 32.0
DESCRIBE_RECOVERY_FACTOR = 0.9
# Starting a replacement (DescribeInstances, CreateReplaceRootVolumeTask) retries throttling with this backoff
# (full jitter, doubling from the first value to the second) for as long as the invocation has time.
START_RETRY_BACKOFF_SECONDS = (1.0, 10.0)
WINDOW_GUARD_SECONDS = 3.0  # stop before the next scheduled poll so two invocations never wait together
LAMBDA_SAFETY_SECONDS = 10.0  # leave this much of the function's timeout to answer CloudFormation


def parse_ec2_time(value: str) -> float | None:
    """EC2's StartTime/CompleteTime strings in both shapes seen ("2021-09-16T00:19:30Z", "2021-09-16 02:19:30.0")."""
    text = value.strip().replace("T", " ").removesuffix("Z")
    for pattern in ("%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%d %H:%M:%S"):
        try:
            return dt.datetime.strptime(text, pattern).replace(tzinfo=dt.UTC).timestamp()
        except ValueError:
            continue
    return None


REDELIVERY_WINDOW_SECONDS = 600.0  # Lambda redelivers after 1 and 2 minutes (plus up to two timeouts)


def request_started_at(now: float, task_start_time: str) -> float:
    """When CloudFormation's clock for this request started: a redelivered request's task began earlier.

    Only a start within the redelivery window counts: the zone-less shape may be in another time zone, and
    trusting an offset of hours would end the wait at once.
    """
    started = parse_ec2_time(task_start_time)
    if started is None or not now - REDELIVERY_WINDOW_SECONDS <= started <= now:
        return now
    return started


def deadline_margin(service_timeout: int) -> float:
    """How long before ServiceTimeout the resource answers on its own, so CloudFormation hears why."""
    return min(30.0, service_timeout * 0.2)


def service_deadline(started_at: float, service_timeout: int) -> float:
    return started_at + service_timeout - deadline_margin(service_timeout)


def next_poll_at(now: float, polling_since: float) -> float:
    """When EventBridge next invokes the function for this request (polls fire every period after scheduling)."""
    return polling_since + (math.floor((now - polling_since) / POLL_PERIOD_SECONDS) + 1) * POLL_PERIOD_SECONDS


def wait_until(now: float, polling_since: float, lambda_deadline: float, service_deadline_at: float) -> float:
    """When this invocation stops waiting: just before the next scheduled poll, the Lambda timeout or the deadline.

    Polls fire at polling_since + k * period; aligning windows to that schedule (not to when an invocation started)
    keeps a late poll from overlapping the next one.
    """
    window_end = max(next_poll_at(now, polling_since), polling_since + POLL_PERIOD_SECONDS) - WINDOW_GUARD_SECONDS
    return min(window_end, lambda_deadline - LAMBDA_SAFETY_SECONDS, service_deadline_at)


# -- what to report ----------------------------------------------------------------------------------------

ATTRIBUTE_NAMES = (
    "TaskId",
    "TaskState",
    "InstanceId",
    "StartTime",
    "CompleteTime",
    "ReplacedRootVolumeId",
    "NewRootVolumeId",
    "ImageId",
    "SnapshotId",
    "DeleteReplacedRootVolume",
)
