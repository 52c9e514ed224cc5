"""Virtual time for the whole process.

time-machine freezes `time.time()` and `datetime.now()` (what boto3, moto and the handler read); `time.sleep`
is replaced so that sleeping advances that frozen time instead of waiting. A 10-minute replacement then runs in
milliseconds, and every component (the EC2 model's timeline, the Lambda deadline, EventBridge's schedule) sees
the same clock.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import TracebackType

import time_machine

DEFAULT_START = dt.datetime(2026, 1, 5, 9, 0, 0, tzinfo=dt.UTC)


class FunctionTimedOut(BaseException):
    """Raised inside a Lambda invocation whose virtual deadline passed while it slept.

    A BaseException, so that the handler's `except Exception` cannot swallow it: Lambda stops a timed-out
    function from the outside, whatever it was doing.
    """


class VirtualClock:
    def __init__(self, start: dt.datetime = DEFAULT_START) -> None:
        self._start = start
        self._traveller: time_machine.travel | None = None
        self._coordinates: time_machine.Coordinates | None = None
        self._real_sleep: Callable[[float], None] = time.sleep
        self._lock = threading.RLock()
        self._deadline = threading.local()
        self.slept = 0.0  # virtual seconds spent in time.sleep, for reports
        # Set by a scheduler that runs several invocations at once (sandbox.scheduler): called with the seconds a
        # thread wants to sleep, it returns True once that thread's virtual time has passed, or False to let the
        # clock advance as usual (single-threaded runs never set it).
        self.sleep_hook: Callable[[float], bool] | None = None

    # -- lifecycle -------------------------------------------------------------------------------------
    def start(self) -> VirtualClock:
        self._traveller = time_machine.travel(self._start, tick=False)
        self._coordinates = self._traveller.start()
        self._real_sleep = time.sleep
        time.sleep = self.sleep  # type: ignore[assignment]  # ours takes a float, as every caller passes
        return self

    def stop(self) -> None:
        time.sleep = self._real_sleep  # type: ignore[assignment]
        if self._traveller is not None:
            self._traveller.stop()
        self._traveller = None
        self._coordinates = None

    def __enter__(self) -> VirtualClock:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- reading and moving time -----------------------------------------------------------------------
    def now(self) -> float:
        return time.time()

    def now_datetime(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(time.time(), tz=dt.UTC)

    def advance(self, seconds: float) -> None:
        if seconds <= 0:
            return
        if self._coordinates is None:
            raise RuntimeError("clock not started")
        with self._lock:
            self._coordinates.shift(seconds)

    def advance_to(self, timestamp: float) -> None:
        self.advance(timestamp - self.now())

    def sleep(self, seconds: float) -> None:
        """time.sleep while the clock runs: advance, but never past the current invocation's deadline."""
        deadline: float | None = getattr(self._deadline, "value", None)
        if deadline is not None and self.now() + seconds > deadline:
            self._pass(deadline - self.now())
            raise FunctionTimedOut(f"Task timed out after sleeping into the deadline at {deadline:.1f}")
        self.slept += max(seconds, 0.0)
        self._pass(seconds)

    def _pass(self, seconds: float) -> None:
        hook = self.sleep_hook
        if hook is not None and hook(max(seconds, 0.0)):
            return
        self.advance(seconds)

    @contextmanager
    def deadline(self, timestamp: float) -> Iterator[None]:
        """Within this block (on this thread), sleeping past `timestamp` raises FunctionTimedOut."""
        previous = getattr(self._deadline, "value", None)
        self._deadline.value = timestamp
        try:
            yield
        finally:
            self._deadline.value = previous

    def real_sleep(self, seconds: float) -> None:
        self._real_sleep(seconds)
