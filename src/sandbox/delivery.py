"""What happens around the invocations of one CloudFormation request: Lambda's async retries, EventBridge's polls.

Lambda: CloudFormation and EventBridge both invoke asynchronously, so an unhandled error or a timeout makes
Lambda deliver the same event again, 60 s and then 120 s after the failed attempt, and then give up.

EventBridge: after every invocation the run reads the sandbox's rules. An ENABLED `rate(N ...)` rule whose
target is this function fires at creation + k*N (k >= 1) and invokes the function with the target's Input (the
event crhelper stored), but only if the function's resource policy lets events.amazonaws.com invoke it for that
rule. Both are judged as they stood at the fire's own moment. Fires can be delivered twice (EventBridge delivers
at least once) or late. Invocations that would overlap in real life run one after another here: each starts
when it is due or when the previous one ended.
"""

from __future__ import annotations

import datetime as dt
import heapq
import itertools
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sandbox import eventbridge, lambda_function
from sandbox.lambda_invocation import Invocation
from sandbox.response_endpoint import RecordedResponse

if TYPE_CHECKING:
    from sandbox.lambda_runtime import LambdaRuntime

RETRY_DELAYS = (60.0, 120.0)  # Lambda's async retries: 1 min, then 2 min after the failed attempt
DEFAULT_SERVICE_TIMEOUT = 3600.0


@dataclass(frozen=True)
class TimelineEntry:
    at: float  # seconds since the run started
    kind: str  # invoke | poll | retry | end | response | timeout | error | rule | undeliverable | state | stop ...
    detail: str


@dataclass
class RunResult:
    request_id: str
    started_at: float
    timeline: list[TimelineEntry]
    invocations: list[Invocation]
    responses: list[RecordedResponse]
    leftover_rules: list[str]
    leftover_permissions: list[dict[str, Any]]
    stopped_because: str
    cloudformation_deadline: float

    @property
    def response(self) -> RecordedResponse | None:
        """The response CloudFormation acts on: the first accepted one before its deadline."""
        for response in self.responses:
            if response.accepted and response.received_at <= self.cloudformation_deadline:
                return response
        return None

    @property
    def status(self) -> str | None:
        response = self.response
        return None if response is None else response.field("Status")

    @property
    def polls(self) -> list[Invocation]:
        return [invocation for invocation in self.invocations if invocation.poll]

    @property
    def logs(self) -> list[str]:
        return [line for invocation in self.invocations for line in invocation.logs]

    @property
    def virtual_seconds(self) -> float:
        return max((entry.at for entry in self.timeline), default=0.0)

    def render(self) -> str:
        return "\n".join(f"{entry.at:9.1f}s  {entry.kind:<13} {entry.detail}" for entry in self.timeline)


@dataclass(order=True)
class _Item:
    """Something due at a virtual time: a rule's fire, or the delivery of an event to the function."""

    due: float
    sequence: int
    kind: str = field(compare=False)  # "fire" | "deliver" | "cancelled-fire"
    event_json: str = field(compare=False, default="")
    trigger: str = field(compare=False, default="")
    attempt: int = field(compare=False, default=0)
    duplicate: bool = field(compare=False, default=False)
    target_key: tuple[str, str] | None = field(compare=False, default=None)


def _service_timeout(event: dict[str, Any]) -> float:
    """How long CloudFormation waits for the answer: the resource's ServiceTimeout (1-3600 s), else one hour."""
    properties = event.get("ResourceProperties")
    value = properties.get("ServiceTimeout") if isinstance(properties, dict) else None
    try:
        seconds = float(value) if value is not None else DEFAULT_SERVICE_TIMEOUT
    except (TypeError, ValueError):
        return DEFAULT_SERVICE_TIMEOUT
    return seconds if 1 <= seconds <= DEFAULT_SERVICE_TIMEOUT else DEFAULT_SERVICE_TIMEOUT


class DeliveryRun:
    """The state of one `LambdaRuntime.run`: a queue of fires and deliveries ordered by due time."""

    def __init__(
        self, runtime: LambdaRuntime, event: dict[str, Any], on_invocation: Callable[[Invocation], list[str]] | None
    ) -> None:
        self.runtime = runtime
        self.clock = runtime.clock
        self.request_id = str(event.get("RequestId", ""))
        self.started_at = self.clock.now()
        self.on_invocation = on_invocation
        self.queue: list[_Item] = []
        self.sequence = itertools.count()
        self.timeline: list[tuple[float, int, TimelineEntry]] = []
        self.invocations: list[Invocation] = []
        self.pending_fires: dict[tuple[str, str], _Item] = {}
        self.live_targets: set[tuple[str, str]] = set()
        self.seen_rules: dict[str, str] = {}  # rule arn -> name, for every rule that ever targeted the function
        self.responses_seen = 0
        self.cloudformation_deadline = self.started_at + _service_timeout(event)
        self.deadline_noted = False
        self._push(_Item(self.started_at, 0, "deliver", json.dumps(event), "cloudformation"))

    def note(self, at: float, kind: str, detail: str) -> None:
        self.timeline.append((at, len(self.timeline), TimelineEntry(round(at - self.started_at, 3), kind, detail)))

    def _push(self, item: _Item) -> _Item:
        item.sequence = next(self.sequence)
        heapq.heappush(self.queue, item)
        return item

    # -- the loop --------------------------------------------------------------------------------------
    def execute(self) -> RunResult:
        limit = self.started_at + self.runtime.max_virtual_seconds
        stopped = "nothing left to run: no rule targets the function"
        while self.queue:
            item = heapq.heappop(self.queue)
            if item.due > limit:
                stopped = f"stopped after {self.runtime.max_virtual_seconds:.0f} virtual seconds"
                self.note(limit, "stop", stopped)
                break
            if item.kind == "cancelled-fire":
                continue  # its rule or target went away before it was due
            self._note_cloudformation_deadline(item.due)
            self.clock.advance_to(item.due)
            if item.kind == "fire":
                self._fire(item)
            else:
                invocation = self._invoke(item)
                self._after(invocation, item)
        self._note_cloudformation_deadline(self.clock.now())
        runtime = self.runtime
        return RunResult(
            request_id=self.request_id,
            started_at=self.started_at,
            timeline=[entry for _, _, entry in sorted(self.timeline, key=lambda item: (item[0], item[1]))],
            invocations=self.invocations,
            responses=runtime.endpoint.all_for(self.request_id) if runtime.endpoint else [],
            leftover_rules=self._leftover_rules(),
            leftover_permissions=lambda_function.events_permissions(
                runtime.function_name, runtime.region, runtime.account
            ),
            stopped_because=stopped,
            cloudformation_deadline=self.cloudformation_deadline,
        )

    def _invoke(self, item: _Item) -> Invocation:
        invocation = self.runtime.invoke(
            item.event_json, trigger=item.trigger, attempt=item.attempt, duplicate=item.duplicate, due_at=item.due
        )
        self.invocations.append(invocation)
        kind = "retry" if item.attempt else ("poll" if invocation.poll else "invoke")
        detail = f"#{invocation.number} {invocation.request_type} via {item.trigger}"
        if item.attempt:
            detail += f" (retry {item.attempt} of {len(RETRY_DELAYS)})"
        if item.duplicate:
            detail += " (duplicate delivery)"
        self.note(invocation.started_at, kind, detail)
        return invocation

    def _after(self, invocation: Invocation, item: _Item) -> None:
        self._note_responses()
        if invocation.outcome == "timeout":
            self.note(invocation.ended_at, "timeout", f"#{invocation.number} {invocation.error}")
        elif invocation.outcome == "error":
            self.note(invocation.ended_at, "error", f"#{invocation.number} {invocation.error}")
        else:
            self.note(invocation.ended_at, "end", f"#{invocation.number} returned after {invocation.duration:.1f}s")
        if self.on_invocation is not None:
            for line in self.on_invocation(invocation):
                self.note(invocation.ended_at, "state", line)
        if invocation.failed:
            self._retry(invocation, item)
        self._watch_rules()

    def _retry(self, invocation: Invocation, item: _Item) -> None:
        if item.attempt >= len(RETRY_DELAYS):
            self.note(invocation.ended_at, "error", f"#{invocation.number}: retries exhausted, event dropped")
            return
        due = invocation.ended_at + RETRY_DELAYS[item.attempt]
        self._push(_Item(due, 0, "deliver", item.event_json, item.trigger, item.attempt + 1, item.duplicate))

    def _note_responses(self) -> None:
        endpoint = self.runtime.endpoint
        if endpoint is None:
            return
        found = endpoint.all_for(self.request_id)
        for response in found[self.responses_seen :]:
            summary = f"{response.field('Status')} ({response.size} bytes) -> HTTP {response.status or 'none'}"
            summary += f" [{response.outcome}]"
            if response.field("Reason"):
                summary += f" Reason: {response.field('Reason')}"
            self.note(response.received_at, "response", summary)
        self.responses_seen = len(found)

    def _note_cloudformation_deadline(self, now: float) -> None:
        if self.deadline_noted or now < self.cloudformation_deadline:
            return
        self.deadline_noted = True
        endpoint = self.runtime.endpoint
        answered = endpoint is not None and any(
            r.accepted and r.received_at <= self.cloudformation_deadline for r in endpoint.all_for(self.request_id)
        )
        if not answered:
            self.note(
                self.cloudformation_deadline, "cloudformation", "no response within ServiceTimeout: resource fails"
            )

    # -- EventBridge -------------------------------------------------------------------------------------
    def _targets(self) -> list[eventbridge.ScheduledTarget]:
        runtime = self.runtime
        return eventbridge.targets_for(runtime.function_arn, runtime.account, runtime.region)

    def _watch_rules(self) -> None:
        """After an invocation: schedule fires for new rules, forget fires of rules that are gone."""
        now = self.clock.now()
        current = {target.key: target for target in self._targets()}
        for key, target in current.items():
            if target.rule_arn not in self.seen_rules:
                self.seen_rules[target.rule_arn] = target.rule_name
                created = target.created_at if target.created_at is not None else now
                size = len(target.target_input or "")
                detail = f"{target.rule_name} {target.schedule_expression} {target.state}, Input {size} chars"
                self.note(created, "rule", detail)
            if key not in self.pending_fires and target.state == "ENABLED" and target.period_seconds is not None:
                created = target.created_at if target.created_at is not None else now
                self._schedule_fire(target, eventbridge.next_fire(created, target.period_seconds, now))
        existing = {rule.arn for rule in eventbridge.rules(self.runtime.account, self.runtime.region)}
        for key in self.live_targets - current.keys():
            what = "target removed" if key[0] in existing else "rule deleted"
            self.note(now, "rule", f"{self.seen_rules.get(key[0], key[0])}: {what}")
        self.live_targets = set(current)
        runtime = self.runtime
        for key, item in list(self.pending_fires.items()):
            # A fire already due while the invocation ran still happens if the target existed at that moment.
            if eventbridge.target_at(key, runtime.function_arn, runtime.account, runtime.region, item.due) is None:
                del self.pending_fires[key]
                item.kind = "cancelled-fire"  # skipped when popped

    def _schedule_fire(self, target: eventbridge.ScheduledTarget, fire: float) -> None:
        self.pending_fires[target.key] = self._push(_Item(fire, 0, "fire", target_key=target.key))

    def _fire(self, item: _Item) -> None:
        """The rule fires: EventBridge reads the target as it stood at the fire time and sends it on."""
        runtime = self.runtime
        key = item.target_key
        if key is None:
            raise RuntimeError("a scheduled fire without its target")
        fired_at = item.due
        if self.pending_fires.get(key) is item:
            del self.pending_fires[key]
        target = eventbridge.target_at(key, runtime.function_arn, runtime.account, runtime.region, fired_at)
        if target is None or target.state != "ENABLED" or target.period_seconds is None:
            return
        still = {t.key for t in self._targets()}
        if key in still:
            created = target.created_at if target.created_at is not None else fired_at
            self._schedule_fire(target, eventbridge.next_fire(created, target.period_seconds, fired_at))
        permitted = lambda_function.allows_invoke(
            runtime.function_name,
            runtime.region,
            runtime.account,
            lambda_function.EVENTS_PRINCIPAL,
            target.rule_arn,
            when=fired_at,
        )
        if not permitted:
            reason = "no resource policy lets events.amazonaws.com invoke the function for this rule"
            self.note(fired_at, "undeliverable", f"{target.rule_name}: {reason}")
            return
        payload = target.target_input if target.target_input is not None else self._scheduled_event(target, fired_at)
        due = fired_at + runtime.poll_delay_seconds
        trigger = f"rule:{target.rule_name}"
        self._push(_Item(due, 0, "deliver", payload, trigger))
        if runtime.duplicate_polls:
            self._push(_Item(due, 0, "deliver", payload, trigger, duplicate=True))

    def _scheduled_event(self, target: eventbridge.ScheduledTarget, fired_at: float) -> str:
        """EventBridge's own event, for a target without Input."""
        return json.dumps(
            {
                "version": "0",
                "id": str(uuid.uuid4()),
                "detail-type": "Scheduled Event",
                "source": "aws.events",
                "account": self.runtime.account,
                "time": dt.datetime.fromtimestamp(fired_at, tz=dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "region": self.runtime.region,
                "resources": [target.rule_arn],
                "detail": {},
            }
        )

    def _leftover_rules(self) -> list[str]:
        runtime = self.runtime
        # Rules that ever targeted the function, and any rule created during the run (even if never targeted).
        names = {
            rule.name
            for rule in eventbridge.rules(runtime.account, runtime.region)
            if rule.arn in self.seen_rules or (eventbridge.created_at(rule) or 0.0) >= self.started_at
        }
        names.update(target.rule_name for target in self._targets())
        return sorted(names)
