"""One stack with many Custom::RootVolumeReplacement resources, created at once, in one virtual clock.

CloudFormation sends every resource's Create at the same moment; each request then lives as it would in AWS:
Lambda runs invocations concurrently (each in a thread, turns handed out by `sandbox.scheduler`), up to the
account's or the function's reserved concurrency, reusing warm execution environments and starting new ones
(a fresh import of the handler module, so no state leaks between environments); EventBridge fires each
scheduled rule on its own period; EC2 and EventBridge throttle with their token buckets (`sandbox.throttling`);
Lambda refuses a resource-based policy over 20 KB (`sandbox.quotas`).

What Lambda does with an asynchronous event it cannot run yet (no concurrency left): it keeps the event and
retries with exponential backoff (1 s doubling, at most 5 minutes between tries) for up to 6 hours. What it
does when an invocation fails or times out: two more tries, 1 and then 2 minutes later.
"""

from __future__ import annotations

import functools
import json
import os
import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from moto.events.models import events_backends

from sandbox import ec2_model, eventbridge, lambda_function, quotas, template, throttling, world
from sandbox.clock import FunctionTimedOut
from sandbox.ec2_tasks import all_backends, state_of
from sandbox.ec2_timeline import Timeline
from sandbox.lambda_invocation import LambdaContext
from sandbox.lambda_runtime import Handler
from sandbox.scheduler import Scheduler
from sandbox.session import DEFAULT_HANDLER, Sandbox, load_handler

ACCOUNT_CONCURRENCY = 1000
ASYNC_RETRY_DELAYS = (60.0, 120.0)
THROTTLED_EVENT_MAX_BACKOFF = 300.0
THROTTLED_EVENT_MAX_AGE = 6 * 3600.0


@dataclass(frozen=True)
class FleetSpec:
    durations: tuple[float, ...]  # one replacement per entry: seconds from start to `succeeded`
    concurrency: int = ACCOUNT_CONCURRENCY  # the account's unreserved pool, or the function's reserved concurrency
    handler: str = DEFAULT_HANDLER
    throttle: bool = True  # EC2 and EventBridge token buckets
    policy_quota: bool = True  # Lambda's 20 KB resource-based policy
    log_level: str = "WARNING"  # the handler's POWERTOOLS_LOG_LEVEL: logging changes no behaviour, only speed
    max_virtual_seconds: float = 4 * 3600.0
    seed: int = 7


@dataclass
class FleetInvocation:
    logical_id: str
    trigger: str  # "cloudformation" | "rule" | "retry"
    poll: bool
    due_at: float
    started_at: float
    ended_at: float = 0.0
    outcome: str = "ok"  # "ok" | "error" | "timeout"
    error: str | None = None
    cold: bool = False

    @property
    def duration(self) -> float:
        return self.ended_at - self.started_at


@dataclass
class ResourceOutcome:
    logical_id: str
    instance_id: str
    request_id: str
    duration: float  # the task's planned duration
    task_id: str | None = None
    task_started_at: float | None = None
    completed_at: float | None = None  # the task's final state
    answered_at: float | None = None  # CloudFormation received the first accepted response
    status: str | None = None
    reason: str = ""
    responses: int = 0

    @property
    def lag(self) -> float | None:
        if self.completed_at is None or self.answered_at is None:
            return None
        return self.answered_at - self.completed_at


@dataclass
class FleetResult:
    spec: FleetSpec
    started_at: float
    ended_at: float
    resources: list[ResourceOutcome]
    invocations: list[FleetInvocation]
    ec2_admitted: dict[str, int]
    ec2_throttled: dict[str, int]
    events_throttled: dict[str, int]
    lambda_throttled_deliveries: int  # events Lambda had to hold back for lack of concurrency
    lambda_max_queue_delay: float
    undeliverable_fires: int
    peak_concurrency: int
    environments: int
    dropped_events: int
    scheduler_errors: list[str]
    stopped_because: str

    @property
    def succeeded(self) -> int:
        return sum(1 for r in self.resources if r.status == "SUCCESS")

    @property
    def stack_seconds(self) -> float | None:
        """From the Creates to the last answer: when the stack could move on (None if some never answered)."""
        answers = [r.answered_at for r in self.resources]
        if any(a is None for a in answers):
            return None
        return max(a for a in answers if a is not None) - self.started_at

    def per_resource_concurrency(self) -> dict[str, int]:
        """The most invocations of one resource that ran at the same time."""
        by_resource: dict[str, list[FleetInvocation]] = {}
        for invocation in self.invocations:
            by_resource.setdefault(invocation.logical_id, []).append(invocation)
        return {key: _peak_overlap(found) for key, found in by_resource.items()}


def _peak_overlap(invocations: list[FleetInvocation]) -> int:
    edges = sorted([(i.started_at, 1) for i in invocations] + [(i.ended_at, -1) for i in invocations])
    peak = running = 0
    for _, step in edges:  # an end sorts before a start at the same moment (-1 < 1): back-to-back is not overlap
        running += step
        peak = max(peak, running)
    return peak


@dataclass
class _Environment:
    number: int
    handler: Handler
    invocations: int = 0


@dataclass
class _Delivery:
    event_json: str
    logical_id: str
    trigger: str
    poll: bool
    first_due: float
    attempt: int = 0
    throttled_tries: int = 0


@dataclass
class _Counters:
    throttled_deliveries: int = 0
    max_queue_delay: float = 0.0
    undeliverable: int = 0
    dropped: int = 0
    peak: int = 0


@dataclass
class _Fires:
    known: dict[str, str] = field(default_factory=dict)  # rule arn -> rule name, rules with a fire scheduled


class FleetRun:
    """Run `spec` inside an entered Sandbox; `run()` returns the FleetResult."""

    def __init__(self, sb: Sandbox, spec: FleetSpec) -> None:
        self.sb = sb
        self.spec = spec
        self.clock = sb.clock
        # A seeded generator: the run must be reproducible; nothing here is secret.
        self.random = random.Random(spec.seed)  # noqa: S311  # nosec B311
        self.timeout = template.function_timeout(sb.function_name)
        self.function_arn = sb.function_arn
        self.invocations: list[FleetInvocation] = []
        self.idle: list[_Environment] = []
        self.environments = 0
        self.in_flight = 0
        self.counters = _Counters()
        self.fires = _Fires()
        self.scheduler = Scheduler(self.clock)
        self.resources: list[ResourceOutcome] = []
        self.policy = throttling.ThrottlePolicy(ec2=spec.throttle, events=spec.throttle)

    # -- set-up --------------------------------------------------------------------------------------------
    def _build_world(self) -> list[dict[str, Any]]:
        ec2 = self.sb.ec2
        image = world.make_image(ec2)
        stack = self.sb.stack("fleet")
        events = []
        for index, duration in enumerate(self.spec.durations):
            instance = world.make_instance(ec2, image_id=image)
            ec2_model.set_timeline(instance.instance_id, Timeline(pending_seconds=2, in_progress_seconds=duration - 2))
            logical_id = f"Replacement{index:04d}"
            event = stack.create(logical_id, {"InstanceId": instance.instance_id})
            events.append(event)
            self.resources.append(ResourceOutcome(logical_id, instance.instance_id, event["RequestId"], duration))
        return events

    @contextmanager
    def _limits(self) -> Iterator[None]:
        with _fast_ec2_settling(), self._quotas():
            yield

    @contextmanager
    def _quotas(self) -> Iterator[None]:
        saved = os.environ.get("POWERTOOLS_LOG_LEVEL")
        os.environ["POWERTOOLS_LOG_LEVEL"] = self.spec.log_level
        throttling.install(self.policy)
        if self.spec.policy_quota:
            quotas.install()
        try:
            yield
        finally:
            throttling.uninstall()
            quotas.uninstall()
            if saved is None:
                os.environ.pop("POWERTOOLS_LOG_LEVEL", None)
            else:
                os.environ["POWERTOOLS_LOG_LEVEL"] = saved

    # -- the run ---------------------------------------------------------------------------------------------
    def run(self) -> FleetResult:
        lambda_function.ensure_function(
            self.sb.function_name, self.sb.region, self.sb.account, timeout=self.timeout, memory_mb=self.sb.memory_mb
        )
        events = self._build_world()  # setting the stage is not throttled: it is not what is measured
        random.seed(self.spec.seed)  # botocore's retry backoff draws from the module's generator
        started = self.clock.now()
        stopped = "every request answered and no rule left to fire"
        with self._limits(), self.scheduler:
            for event in events:
                delivery = _Delivery(json.dumps(event), event["LogicalResourceId"], "cloudformation", False, started)
                self.scheduler.call_at(started, functools.partial(self._deliver, delivery))
            limit = started + self.spec.max_virtual_seconds
            self.scheduler.run(until=limit)
            if self.scheduler.pending:
                stopped = f"stopped after {self.spec.max_virtual_seconds:.0f} virtual seconds"
        ended = self.clock.now()
        self._collect()
        return FleetResult(
            spec=self.spec,
            started_at=started,
            ended_at=ended,
            resources=self.resources,
            invocations=self.invocations,
            ec2_admitted={op: n for (svc, op), n in self.policy.admitted.items() if svc == "ec2"},
            ec2_throttled={op: n for (svc, op), n in self.policy.throttled.items() if svc == "ec2"},
            events_throttled={op: n for (svc, op), n in self.policy.throttled.items() if svc == "events"},
            lambda_throttled_deliveries=self.counters.throttled_deliveries,
            lambda_max_queue_delay=self.counters.max_queue_delay,
            undeliverable_fires=self.counters.undeliverable,
            peak_concurrency=self.counters.peak,
            environments=self.environments,
            dropped_events=self.counters.dropped,
            scheduler_errors=[f"{name}: {type(error).__name__}: {error}" for name, error in self.scheduler.errors],
            stopped_because=stopped,
        )

    # -- Lambda ----------------------------------------------------------------------------------------------
    def _deliver(self, delivery: _Delivery) -> None:
        now = self.clock.now()
        if self.in_flight >= self.spec.concurrency:
            self.counters.throttled_deliveries += 1
            if now - delivery.first_due > THROTTLED_EVENT_MAX_AGE:
                self.counters.dropped += 1
                return
            backoff = min(THROTTLED_EVENT_MAX_BACKOFF, 2.0**delivery.throttled_tries)
            delivery.throttled_tries += 1
            self.scheduler.call_at(now + backoff * self.random.uniform(0.5, 1.0), lambda: self._deliver(delivery))
            return
        self.counters.max_queue_delay = max(self.counters.max_queue_delay, now - delivery.first_due)
        cold = not self.idle
        environment = self.idle.pop() if self.idle else self._new_environment()
        self.in_flight += 1
        self.counters.peak = max(self.counters.peak, self.in_flight)
        invocation = FleetInvocation(
            delivery.logical_id, delivery.trigger, delivery.poll, delivery.first_due, now, cold=cold
        )
        self.invocations.append(invocation)
        self.scheduler.spawn(
            lambda: self._invoke(environment, delivery, invocation), f"{delivery.logical_id}#{len(self.invocations)}"
        )

    def _new_environment(self) -> _Environment:
        # Called on the scheduler's thread while every invocation is parked: re-importing is safe here.
        self.environments += 1
        with _seeded_system_random(self.random.random()):
            handler = load_handler(self.spec.handler)
        return _Environment(self.environments, handler)

    def _invoke(self, environment: _Environment, delivery: _Delivery, invocation: FleetInvocation) -> None:
        payload = json.loads(delivery.event_json)
        deadline = invocation.started_at + self.timeout
        context = LambdaContext(
            self.sb.function_name,
            region=self.sb.region,
            account=self.sb.account,
            memory_mb=self.sb.memory_mb,
            deadline=deadline,
            clock=self.clock,
        )
        try:
            with self.clock.deadline(deadline):
                environment.handler(payload, context)
        except FunctionTimedOut:
            invocation.outcome, invocation.error = "timeout", f"Task timed out after {self.timeout:.0f} seconds"
        except Exception as error:  # unhandled: Lambda retries the event
            invocation.outcome, invocation.error = "error", f"{type(error).__name__}: {error}"
        invocation.ended_at = self.clock.now()
        environment.invocations += 1
        self.scheduler.call_at(invocation.ended_at, lambda: self._ended(environment, delivery, invocation))

    def _ended(self, environment: _Environment, delivery: _Delivery, invocation: FleetInvocation) -> None:
        self.in_flight -= 1
        self.idle.append(environment)
        if invocation.outcome != "ok":
            if delivery.attempt < len(ASYNC_RETRY_DELAYS):
                retry = _Delivery(
                    delivery.event_json,
                    delivery.logical_id,
                    "retry",
                    delivery.poll,
                    invocation.ended_at + ASYNC_RETRY_DELAYS[delivery.attempt],
                    attempt=delivery.attempt + 1,
                )
                self.scheduler.call_at(retry.first_due, lambda: self._deliver(retry))
            else:
                self.counters.dropped += 1
        self._watch_rules()

    # -- EventBridge -----------------------------------------------------------------------------------------
    def _rules(self) -> dict[str, Any]:
        bus = events_backends[self.sb.account][self.sb.region].event_buses.get("default")
        return {} if bus is None else dict(bus.rules)

    def _watch_rules(self) -> None:
        now = self.clock.now()
        for name, rule in self._rules().items():
            if rule.arn in self.fires.known or not rule.targets:
                continue
            period = eventbridge.rate_seconds(rule.scheduled_expression)
            if period is None:
                continue
            self.fires.known[rule.arn] = name
            created = eventbridge.created_at(rule) or now
            fire_at = eventbridge.next_fire(created, period, now)
            self.scheduler.call_at(fire_at, functools.partial(self._fire, rule.arn, name))

    def _fire(self, rule_arn: str, name: str) -> None:
        now = self.clock.now()
        rule = self._rules().get(name)
        period = None if rule is None else eventbridge.rate_seconds(rule.scheduled_expression)
        if rule is None or rule.arn != rule_arn or period is None:
            self.fires.known.pop(rule_arn, None)
            return
        created = eventbridge.created_at(rule) or now
        self.scheduler.call_at(eventbridge.next_fire(created, period, now), lambda: self._fire(rule_arn, name))
        if rule.state != "ENABLED":
            return
        for target in rule.targets:
            if target.get("Arn") not in (self.function_arn, f"{self.function_arn}:$LATEST"):
                continue
            permitted = lambda_function.allows_invoke(
                self.sb.function_name, self.sb.region, self.sb.account, lambda_function.EVENTS_PRINCIPAL, rule.arn
            )
            if not permitted:
                self.counters.undeliverable += 1
                continue
            payload = target.get("Input") or "{}"
            logical_id = str(json.loads(payload).get("LogicalResourceId", name))
            self._deliver(_Delivery(payload, logical_id, "rule", True, now))

    # -- results ---------------------------------------------------------------------------------------------
    def _collect(self) -> None:
        tasks = {task.instance_id: task for task in ec2_model.tasks()}
        for resource in self.resources:
            task = tasks.get(resource.instance_id)
            if task is not None:
                resource.task_id = task.id
                resource.task_started_at = task.started_at
                resource.completed_at = task.completed_at()
            found = self.sb.endpoint.all_for(resource.request_id)
            resource.responses = len(found)
            accepted = [r for r in found if r.accepted]
            if accepted:
                resource.answered_at = accepted[0].received_at
                resource.status = str(accepted[0].field("Status"))
                resource.reason = str(accepted[0].field("Reason") or "")


@contextmanager
def _seeded_system_random(seed: float) -> Iterator[None]:
    """Random generators the handler makes at import (its jitter) are seeded, so that a run is reproducible."""
    real = random.SystemRandom
    generators = random.Random(seed)  # noqa: S311  # nosec B311

    def seeded(*_: Any) -> random.Random:
        return random.Random(generators.random())  # noqa: S311  # nosec B311

    random.SystemRandom = seeded  # type: ignore[assignment,misc]
    try:
        yield
    finally:
        random.SystemRandom = real  # type: ignore[misc]


@contextmanager
def _fast_ec2_settling() -> Iterator[None]:
    """Same results as the EC2 model's settling, in O(1) per request instead of O(tasks x instances).

    The model settles every backend before every EC2 request: it re-reads every instance and looks each unfinished
    task's instance up by a linear scan (moto copies every reservation to do so). With hundreds of resources that
    is most of the run's time. In a fleet nothing but the tasks changes instances (none is stopped, started or
    created while it runs), so settling can be skipped while no unfinished task has reached its end, and instances
    can be looked up in a map built once.
    """
    namespace = vars(ec2_model)  # ec2_model calls the settle_backend it imported: replace that name
    original: Callable[[Any], None] = namespace["settle_backend"]
    patched: list[Any] = []

    def settle_when_due(backend: Any) -> None:
        now = time.time()
        for task in state_of(backend).tasks.values():
            completed = task.completed_at()
            if not task.effects_applied and completed is not None and completed <= now:
                original(backend)
                return

    for backend in all_backends():
        index = {instance.id: instance for instance in backend.all_instances()}

        def get_instance(instance_id: str, index: dict[str, Any] = index, backend: Any = backend) -> Any:
            found = index.get(instance_id)
            if found is None:
                found = type(backend).get_instance(backend, instance_id)  # raises InvalidInstanceIdError
                index[instance_id] = found
            return found

        backend.get_instance = get_instance
        patched.append(backend)
    namespace["settle_backend"] = settle_when_due
    try:
        yield
    finally:
        namespace["settle_backend"] = original
        for backend in patched:
            del backend.get_instance


def run_fleet(spec: FleetSpec) -> FleetResult:
    """A fresh Sandbox, the fleet, and its result."""
    with Sandbox() as sb:
        return FleetRun(sb, spec).run()
