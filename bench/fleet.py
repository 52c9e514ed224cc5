"""Section 4: one stack with N resources created at once, on the sandbox's fleet model (sandbox.fleet)."""

from __future__ import annotations

import math
import os
import random
import statistics
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

from bench.single import BASELINE, OURS
from sandbox.fleet import ACCOUNT_CONCURRENCY, FleetSpec, run_fleet


@dataclass(frozen=True)
class Scenario:
    name: str
    size: int
    handler: str = OURS
    concurrency: int = ACCOUNT_CONCURRENCY
    low: float = 120.0  # task durations, uniform in [low, high] seconds
    high: float = 600.0


FULL = (
    Scenario("ours-10", 10),
    Scenario("ours-100", 100),
    Scenario("ours-500", 500),
    Scenario("ours-100-reserved-50", 100, concurrency=50),
    Scenario("baseline-100", 100, handler=BASELINE),
)
QUICK = (
    Scenario("ours-10", 10, low=30.0, high=150.0),
    Scenario("baseline-10", 10, handler=BASELINE, low=30.0, high=150.0),
)


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile (the value at or below which `fraction` of the values lie)."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(1, min(len(ordered), math.ceil(fraction * len(ordered) - 1e-9)))
    return ordered[rank - 1]


def run_scenario(scenario: Scenario, seed: int = 1) -> dict[str, Any]:
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
    draw = random.Random(seed)
    durations = tuple(round(draw.uniform(scenario.low, scenario.high), 1) for _ in range(scenario.size))
    wall = time.perf_counter()
    result = run_fleet(FleetSpec(durations=durations, concurrency=scenario.concurrency, handler=scenario.handler))
    wall = time.perf_counter() - wall
    lags = [r.lag for r in result.resources if r.lag is not None and r.status == "SUCCESS"]
    failures = Counter(_reason_kind(r.reason) for r in result.resources if r.status != "SUCCESS")
    return {
        "name": scenario.name,
        "handler": "ours" if scenario.handler == OURS else "baseline",
        "size": scenario.size,
        "concurrency": scenario.concurrency,
        "durations": [scenario.low, scenario.high],
        "succeeded": result.succeeded,
        "failed": sum(1 for r in result.resources if r.status == "FAILED"),
        "unanswered": sum(1 for r in result.resources if r.status is None),
        "failure_kinds": dict(failures),
        "lags": lags,
        "lag_mean": statistics.mean(lags) if lags else None,
        "lag_p95": percentile(lags, 0.95) if lags else None,
        "lag_max": max(lags) if lags else None,
        "stack_seconds": result.stack_seconds,
        "longest_task": max(durations),
        "ec2_throttled": result.ec2_throttled,
        "ec2_admitted": result.ec2_admitted,
        "events_throttled": result.events_throttled,
        "lambda_throttled_deliveries": result.lambda_throttled_deliveries,
        "lambda_max_queue_delay": result.lambda_max_queue_delay,
        "peak_concurrency": result.peak_concurrency,
        "max_per_resource_concurrency": max(result.per_resource_concurrency().values(), default=0),
        "redelivered": sum(1 for i in result.invocations if i.trigger == "retry"),
        "invocation_errors": sum(1 for i in result.invocations if i.outcome != "ok"),
        "dropped_events": result.dropped_events,
        "undeliverable_fires": result.undeliverable_fires,
        "scheduler_errors": result.scheduler_errors,
        "stopped_because": result.stopped_because,
        "wall_seconds": wall,
    }


def _reason_kind(reason: str) -> str:
    for marker in ("PolicyLengthExceeded", "RequestLimitExceeded", "Throttling", "ServiceTimeout"):
        if marker in reason:
            return marker
    return reason[:80] or "no answer"


def run_scenarios(names: list[str], quick: bool) -> list[dict[str, Any]]:
    table = {s.name: s for s in (QUICK if quick else FULL)}
    return [run_scenario(table[name]) for name in names]


def cost_hint(name: str, quick: bool) -> float:
    """Rough relative wall time of a scenario, to start the longest first."""
    scenario = next(s for s in (QUICK if quick else FULL) if s.name == name)
    return scenario.size * (scenario.low + scenario.high) * (0.3 if scenario.handler == BASELINE else 1.0)


def scenario_names(quick: bool) -> list[str]:
    return [s.name for s in (QUICK if quick else FULL)]
