"""Wait for a task inside one invocation: describe every few seconds until it ends or the window closes.

EC2 throttles per account and region, so when many resources wait at once they share one describe budget
(100 burst, 20 per second). The pace therefore belongs to the execution environment, not to one request: a
`DescribePacer` doubles the interval on RequestLimitExceeded, with jitter so that a fleet of pollers does not fall
into step, and brings it back slowly (10 % per answered describe) towards the 4-second base. Lambda reuses warm
environments, so a later poll starts at the pace the last one learnt. Starting a task has a deadline instead of a
pace: `retry_transient` keeps trying (throttling, 5xx) until the invocation's time is nearly up.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from .ec2 import Ec2Refusal, TaskView
from .rules import (
    DESCRIBE_INTERVAL_SECONDS,
    DESCRIBE_RECOVERY_FACTOR,
    MAX_DESCRIBE_INTERVAL_SECONDS,
    START_RETRY_BACKOFF_SECONDS,
    is_final,
)

T = TypeVar("T")


@dataclass
class DescribePacer:
    """How long to pause between describes: the base until EC2 throttles, then more, with jitter."""

    base: float = DESCRIBE_INTERVAL_SECONDS
    ceiling: float = MAX_DESCRIBE_INTERVAL_SECONDS
    interval: float = DESCRIBE_INTERVAL_SECONDS
    jitter: random.Random = field(default_factory=random.SystemRandom)  # spreading load, not secrecy

    def throttled(self) -> None:
        self.interval = min(self.ceiling, self.interval * 2)

    def answered(self) -> None:
        self.interval = max(self.base, self.interval * DESCRIBE_RECOVERY_FACTOR)

    def pause(self) -> float:
        if self.interval <= self.base:
            return self.base  # exactly the base while unthrottled: at most 15 describes a minute
        return max(self.base, self.interval * self.jitter.uniform(0.75, 1.25))


PACER = DescribePacer()  # one per execution environment
_JITTER = random.SystemRandom()


@dataclass(frozen=True)
class WaitResult:
    task: TaskView | None  # the last view seen (None: EC2 never answered, or does not know the task)
    final: bool
    transient_errors: int = 0


def wait_for_final_state(
    describe: Callable[[], TaskView | None],
    until: float,
    *,
    pacer: DescribePacer | None = None,
    not_before: float | None = None,
    on_view: Callable[[TaskView], None] | None = None,
) -> WaitResult:
    """Describe (at `not_before` if that is later than now and before `until`), then at the pacer's pace while
    the next describe still fits before `until`.

    Throttling and 5xx that outlast botocore's own retries are not fatal: the next describe tries again.
    Always describes at least once, so a poll that arrives late still looks.
    """
    pacer = pacer or PACER
    if not_before is not None and time.time() < not_before <= until:
        time.sleep(not_before - time.time())
    last: TaskView | None = None
    errors = 0
    while True:
        try:
            view = describe()
        except Ec2Refusal as refusal:
            if not refusal.is_transient:
                raise
            errors += 1
            if refusal.is_throttling:
                pacer.throttled()
        else:
            pacer.answered()
            if view is None:
                return WaitResult(None, final=False, transient_errors=errors)
            if on_view is not None and (last is None or last.state != view.state):
                on_view(view)
            last = view
            if is_final(view.state):
                return WaitResult(view, final=True, transient_errors=errors)
        pause = pacer.pause()
        if time.time() + pause > until:
            return WaitResult(last, final=False, transient_errors=errors)
        time.sleep(pause)


def is_ec2_transient(error: Exception) -> bool:
    """Throttling or a 5xx: worth trying again."""
    return isinstance(error, Ec2Refusal) and error.is_transient


def retry_transient(
    call: Callable[[], T],
    deadline: float,
    *,
    transient: Callable[[Exception], bool] = is_ec2_transient,
    jitter: random.Random | None = None,
    backoff: tuple[float, float] = START_RETRY_BACKOFF_SECONDS,
) -> T:
    """`call()`, tried again after a transient error (full-jitter exponential backoff) while the next try fits
    before `deadline`; the last error is raised when it does not. Other errors are raised at once."""
    jitter = jitter or _JITTER
    first, cap = backoff
    attempt = 0
    while True:
        try:
            return call()
        except Exception as error:
            if not transient(error):
                raise
            pause = jitter.uniform(0, min(cap, first * 2**attempt))
            attempt += 1
            if time.time() + pause > deadline:
                raise
            time.sleep(pause)
