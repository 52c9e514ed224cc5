"""What the sandbox's EventBridge (moto) holds, read the way the scheduler would read it.

moto keeps rules but never fires them, and records no creation time. EventBridge fires a `rate(N unit)` rule
every N units counted from the moment the rule was created, so `install()` stamps each rule with the virtual
time of its PutRule, and `next_fire` counts from that stamp.
"""

from __future__ import annotations

import functools
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from moto.events.models import EventsBackend, Rule, events_backends

_CREATED_AT = "sandbox_created_at"
_installed: list[bool] = []
# (account, region, rule arn, target id) -> (the target as it was, virtual time it was removed). A fire that
# was due while another invocation was still running is processed after that invocation ends; the journal
# lets it see the target as it stood at the fire's own moment.
_REMOVED: dict[tuple[str, str, str, str], tuple[ScheduledTarget, float]] = {}
_RATE = re.compile(r"^rate\((\d+)\s+(minute|minutes|hour|hours|day|days)\)$")
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}


def rate_seconds(schedule_expression: str | None) -> float | None:
    """Seconds between fires of a `rate(...)` schedule; None for cron or anything else."""
    match = _RATE.match(schedule_expression or "")
    if match is None:
        return None
    value, unit = int(match.group(1)), match.group(2).rstrip("s")
    if value < 1:
        return None
    return float(value * _UNIT_SECONDS[unit])


def next_fire(created_at: float, period: float, after: float) -> float:
    """The first fire strictly later than `after` of a rule created at `created_at` (never at creation)."""
    count = max(1, int((after - created_at) // period) + 1)
    fire = created_at + count * period
    while fire <= after:  # float rounding
        fire += period
    return fire


def _stamping_put_rule(original: Callable[..., Rule]) -> Callable[..., Rule]:
    @functools.wraps(original)
    def put_rule(self: EventsBackend, name: str, *args: Any, **kwargs: Any) -> Rule:
        previous = _find_rule(self, name)
        rule = original(self, name, *args, **kwargs)
        # Re-putting a rule with the same schedule keeps its phase; a new schedule starts counting again.
        if previous is not None and previous.scheduled_expression == rule.scheduled_expression:
            setattr(rule, _CREATED_AT, getattr(previous, _CREATED_AT, time.time()))
        else:
            setattr(rule, _CREATED_AT, time.time())
        return rule

    return put_rule


def created_at(rule: Rule) -> float | None:
    """Virtual time of the PutRule that created the rule (None for rules made before install())."""
    stamp = getattr(rule, _CREATED_AT, None)
    return None if stamp is None else float(stamp)


def _find_rule(backend: EventsBackend, name: str) -> Rule | None:
    bus = backend.event_buses.get("default")
    return None if bus is None else bus.rules.get(name)


def _journaling_remove_targets(original: Callable[..., None]) -> Callable[..., None]:
    @functools.wraps(original)
    def remove_targets(self: EventsBackend, name: str, event_bus_arn: str | None, ids: list[str]) -> None:
        rule = _find_rule(self, name)
        before = [] if rule is None else [_scheduled(rule, target) for target in rule.targets]
        original(self, name, event_bus_arn, ids)
        now = time.time()
        for target in before:
            if target.target_id in ids:
                _REMOVED[(self.account_id, self.region_name, target.rule_arn, target.target_id)] = (target, now)

    return remove_targets


def install() -> None:
    """Stamp rules with their creation time and journal target removals; idempotent."""
    if _installed:
        return
    for attribute, wrap in (("put_rule", _stamping_put_rule), ("remove_targets", _journaling_remove_targets)):
        setattr(EventsBackend, attribute, wrap(getattr(EventsBackend, attribute)))
    _installed.append(True)


def reset() -> None:
    """Forget removals journaled by an earlier sandbox."""
    _REMOVED.clear()


@dataclass(frozen=True)
class ScheduledTarget:
    """One target of one scheduled rule, as EventBridge would deliver it."""

    rule_name: str
    rule_arn: str
    state: str
    schedule_expression: str | None
    period_seconds: float | None
    created_at: float | None
    target_id: str
    target_arn: str
    target_input: str | None

    @property
    def key(self) -> tuple[str, str]:
        return (self.rule_arn, self.target_id)


def rules(account: str, region: str) -> list[Rule]:
    backend: EventsBackend = events_backends[account][region]
    return [rule for bus in backend.event_buses.values() for rule in bus.rules.values()]


def _scheduled(rule: Rule, target: dict[str, Any]) -> ScheduledTarget:
    return ScheduledTarget(
        rule_name=rule.name,
        rule_arn=rule.arn,
        state=rule.state,
        schedule_expression=rule.scheduled_expression,
        period_seconds=rate_seconds(rule.scheduled_expression),
        created_at=getattr(rule, _CREATED_AT, None),
        target_id=target["Id"],
        target_arn=target["Arn"],
        target_input=target.get("Input"),
    )


def _aims_at(target: ScheduledTarget, function_arn: str) -> bool:
    return target.target_arn in (function_arn, f"{function_arn}:$LATEST")


def targets_for(function_arn: str, account: str, region: str) -> list[ScheduledTarget]:
    """Every (rule, target) pair whose target is this function (unqualified or $LATEST), as of now."""
    found = [_scheduled(rule, target) for rule in rules(account, region) for target in rule.targets]
    return [target for target in found if _aims_at(target, function_arn)]


def target_at(
    key: tuple[str, str], function_arn: str, account: str, region: str, when: float
) -> ScheduledTarget | None:
    """The (rule arn, target id) target as it stood at virtual time `when` (it may have been removed since)."""
    for target in targets_for(function_arn, account, region):
        if target.key == key:
            return target
    removed = _REMOVED.get((account, region, *key))
    if removed is not None and removed[1] > when and _aims_at(removed[0], function_arn):
        return removed[0]
    return None
