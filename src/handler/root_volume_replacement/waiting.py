"""Wait for a task inside one invocation: describe every few seconds until it ends or the window closes."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from .ec2 import Ec2Refusal, TaskView
from .rules import DESCRIBE_INTERVAL_SECONDS, is_final


@dataclass(frozen=True)
class WaitResult:
    task: TaskView | None  # the last view seen (None: EC2 never answered, or does not know the task)
    final: bool
    transient_errors: int = 0


def wait_for_final_state(
    describe: Callable[[], TaskView | None],
    until: float,
    interval: float = DESCRIBE_INTERVAL_SECONDS,
    on_view: Callable[[TaskView], None] | None = None,
) -> WaitResult:
    """Describe now, then every `interval` seconds while the next describe still fits before `until`.

    Throttling and 5xx that outlast botocore's own retries are not fatal: the next describe tries again.
    Always describes at least once, so a poll that arrives late still looks.
    """
    last: TaskView | None = None
    errors = 0
    while True:
        try:
            view = describe()
        except Ec2Refusal as refusal:
            if not refusal.is_transient:
                raise
            errors += 1
        else:
            if view is None:
                return WaitResult(None, final=False, transient_errors=errors)
            if on_view is not None and (last is None or last.state != view.state):
                on_view(view)
            last = view
            if is_final(view.state):
                return WaitResult(view, final=True, transient_errors=errors)
        if time.time() + interval > until:
            return WaitResult(last, final=False, transient_errors=errors)
        time.sleep(interval)
