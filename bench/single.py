"""Sections 1 and 2: one resource at a time, each in a fresh sandbox, for many task durations and both handlers.

Every figure is in the sandbox's virtual time: the task ends exactly `duration` seconds after EC2 accepted it,
and the lag is from that moment to the moment CloudFormation's ResponseURL received the answer.
"""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass
from typing import Any

from sandbox import aws_calls, ec2_model, world
from sandbox.driver import StackResource
from sandbox.ec2_timeline import Timeline
from sandbox.session import Sandbox

OURS = "app:handler"
BASELINE = "bench.baseline_handler:handler"
HANDLERS = {"ours": OURS, "baseline": BASELINE}


def durations(count: int, low: float = 10.0, high: float = 1800.0) -> list[float]:
    """`count` durations from `low` to `high`, spaced geometrically, none on a multiple of 4 s or of 60 s.

    The golden-ratio nudge puts each one at a different phase of every polling period (4 s describes, 60 s and
    120 s rules), so the sweep samples the whole range of lags instead of one lucky alignment.
    """
    golden = (math.sqrt(5) - 1) / 2
    found = []
    for index in range(count):
        base = low * (high / low) ** (index / (count - 1)) if count > 1 else low
        nudge = ((index + 1) * golden) % 1.0 * min(3.7, 0.05 * base)
        value = round(min(high - 0.3, base + nudge), 1)
        if value % 4 == 0 or value % 60 == 0:
            value += 0.3
        found.append(value)
    return found


@dataclass
class SingleRun:
    handler: str  # "ours" | "baseline"
    duration: float
    status: str | None
    lag: float | None
    describes: int
    waiting_seconds: float  # task start to CloudFormation's answer
    lambda_seconds: float  # sum of invocation durations: what Lambda bills
    invocations: int
    max_concurrent_invocations: int  # of this one resource
    held_seconds: float  # seconds during which at least one invocation of the resource ran

    @property
    def describes_per_minute(self) -> float:
        return self.describes / (self.waiting_seconds / 60) if self.waiting_seconds > 0 else 0.0


def _overlap(spans: list[tuple[float, float]]) -> tuple[int, float]:
    """(most invocations running at once, seconds during which at least one ran). An invocation of no virtual
    duration still counts as running at its own start."""
    peak = max(
        (
            sum(1 for other in spans if other[0] <= start and (start < other[1] or other == (start, end)))
            for start, end in spans
        ),
        default=0,
    )
    held = 0.0
    covered_until = -math.inf
    for start, end in sorted(spans):
        held += max(0.0, end - max(start, covered_until))
        covered_until = max(covered_until, end)
    return peak, held


def run_one(handler: str, duration: float) -> SingleRun:
    with Sandbox() as sb:
        instance = world.make_instance(sb.ec2)
        ec2_model.set_timeline(instance.instance_id, Timeline(pending_seconds=2, in_progress_seconds=duration - 2))
        aws_calls.reset()
        resource = StackResource(sb, runtime_options={"handler": HANDLERS[handler]})
        result = resource.create({"InstanceId": instance.instance_id})
        task = next(t for t in ec2_model.tasks() if t.instance_id == instance.instance_id)
        completed = task.completed_at()
        response = result.response
        describes = sum(
            1 for call in aws_calls.calls() if call.operation == "DescribeReplaceRootVolumeTasks" and not call.faulted
        )
        answered = response.received_at if response is not None else None
        spans = [(i.started_at, i.ended_at) for i in result.invocations]
        peak, held = _overlap(spans)
        return SingleRun(
            handler=handler,
            duration=duration,
            status=result.status,
            lag=None if answered is None or completed is None else answered - completed,
            describes=describes,
            waiting_seconds=0.0 if answered is None else answered - task.started_at,
            lambda_seconds=sum(i.duration for i in result.invocations),
            invocations=len(result.invocations),
            max_concurrent_invocations=peak,
            held_seconds=held,
        )


def run_sweep(count: int, highest: float = 1800.0) -> list[dict[str, Any]]:
    """Every duration with both handlers; returns plain dicts (they cross a process boundary)."""
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")  # logging changes no behaviour, only the run's speed
    runs = []
    for duration in durations(count, high=highest):
        for handler in HANDLERS:
            run = run_one(handler, duration)
            runs.append({**asdict(run), "describes_per_minute": run.describes_per_minute})
    return runs
