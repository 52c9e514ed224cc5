"""One Lambda invocation: the context object, what the function logged, and crhelper's timer in virtual time.

crhelper arms a threading.Timer to send FAILED half a second before the deadline; in virtual time that real
timer would never fire, so during an invocation `threading.Timer` is a VirtualTimer that fires once the
invocation has reached its due time (on cancel(), or when the invocation ends).
"""

from __future__ import annotations

import contextlib
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from sandbox import lambda_function
from sandbox.clock import FunctionTimedOut, VirtualClock

Handler = Callable[[dict[str, Any], Any], Any]


class LambdaContext:
    """The context object the Python runtime passes to the handler."""

    def __init__(
        self, function_name: str, *, region: str, account: str, memory_mb: int, deadline: float, clock: VirtualClock
    ) -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = lambda_function.function_arn(function_name, region, account)
        self.memory_limit_in_mb = memory_mb
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function_name}"
        day = clock.now_datetime().strftime("%Y/%m/%d")
        self.log_stream_name = f"{day}/[$LATEST]{uuid.uuid4().hex}"
        self.identity = None
        self.client_context = None
        self._deadline = deadline
        self._clock = clock

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - self._clock.now()) * 1000))


@dataclass
class Invocation:
    number: int
    trigger: str  # "cloudformation" or "rule:<name>"
    attempt: int  # 0 for the first delivery, 1 and 2 for Lambda's retries
    duplicate: bool  # a second EventBridge delivery of the same fire
    request_type: str
    poll: bool
    due_at: float
    started_at: float
    ended_at: float = 0.0
    outcome: str = "ok"  # "ok" | "error" | "timeout"
    error: str | None = None
    aws_request_id: str = ""
    logs: list[str] = field(default_factory=list)
    result: Any = None

    @property
    def duration(self) -> float:
        return self.ended_at - self.started_at

    @property
    def failed(self) -> bool:
        return self.outcome != "ok"


class VirtualTimer:
    """threading.Timer in virtual time, for the length of one invocation."""

    def __init__(
        self,
        interval: float,
        function: Callable[..., Any],
        args: Any = None,
        kwargs: Any = None,
        *,
        clock: VirtualClock,
        registry: list[VirtualTimer],
    ) -> None:
        self.interval = float(interval)
        self.function = function
        self.args = list(args or [])
        self.kwargs = dict(kwargs or {})
        self.daemon = True
        self.due: float | None = None
        self.fired = False
        self.cancelled = False
        self._clock = clock
        self._registry = registry

    def start(self) -> None:
        self.due = self._clock.now() + self.interval
        self._registry.append(self)

    def cancel(self) -> None:
        # In real time the timer thread would already have run if its moment has passed.
        self.fire_if_due()
        self.cancelled = True

    def fire_if_due(self) -> None:
        if self.fired or self.cancelled or self.due is None or self._clock.now() < self.due:
            return
        self.fired = True
        with contextlib.suppress(Exception, FunctionTimedOut):  # Lambda stops the function at the deadline
            self.function(*self.args, **self.kwargs)

    def is_alive(self) -> bool:
        return self.due is not None and not (self.fired or self.cancelled)

    def join(self, timeout: float | None = None) -> None:
        """Nothing to wait for: the timer runs in the invoking thread."""


@contextlib.contextmanager
def virtual_timers(clock: VirtualClock, registry: list[VirtualTimer]) -> Iterator[None]:
    """Within the block, threading.Timer(...) makes VirtualTimers on `clock`, collected in `registry`."""
    real_timer = threading.Timer

    def make_timer(interval: float, function: Callable[..., Any], args: Any = None, kwargs: Any = None) -> VirtualTimer:
        return VirtualTimer(interval, function, args, kwargs, clock=clock, registry=registry)

    threading.Timer = make_timer  # type: ignore[misc,assignment]
    try:
        yield
    finally:
        threading.Timer = real_timer  # type: ignore[misc]
