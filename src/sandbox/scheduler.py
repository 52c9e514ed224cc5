"""Many invocations at once on one virtual clock: a conservative discrete-event scheduler over real threads.

Each concurrent activity (one Lambda invocation) runs in its own thread so the handler's code runs unchanged,
`time.sleep` included. Exactly one thread runs at any moment: a thread that sleeps parks until the scheduler wakes
it, and the scheduler moves the clock only when every managed thread is parked or finished, to the earliest
moment anything is due (a wake-up or a scheduled callback). Ties go in the order they were scheduled, so a run is
deterministic. Callbacks (`call_at`) run on the scheduler's own thread, between threads' turns: that is where
new threads are started, so they too begin only when everything else is parked.

Real time spent in a thread (moto, HTTP to the response endpoint) costs no virtual time, as in the rest of the
sandbox: only sleeping moves the clock.
"""

from __future__ import annotations

import heapq
import itertools
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from sandbox.clock import VirtualClock

STUCK_AFTER_REAL_SECONDS = 300.0  # a thread that neither sleeps nor ends for this long has hung


class SchedulerStopped(BaseException):
    """Raised in a parked thread when the run stops before its wake-up (the simulation's end, not an error)."""


class SchedulerStuck(RuntimeError):
    pass


@dataclass
class _Waiter:
    name: str
    released: threading.Event = field(default_factory=threading.Event)
    stopped: bool = False


@dataclass(order=True)
class _Due:
    at: float
    sequence: int
    waiter: _Waiter | None = field(compare=False, default=None)
    callback: Callable[[], None] | None = field(compare=False, default=None)


class Scheduler:
    """Install on a started VirtualClock with `with Scheduler(clock) as scheduler:`; then `spawn`, `call_at`, `run`."""

    def __init__(self, clock: VirtualClock) -> None:
        self.clock = clock
        self._due: list[_Due] = []
        self._sequence = itertools.count()
        self._condition = threading.Condition()
        self._running = 0  # managed threads that are runnable (not parked, not finished)
        self._local = threading.local()
        self._threads: list[threading.Thread] = []
        self._parked: dict[int, _Waiter] = {}
        self.errors: list[tuple[str, BaseException]] = []  # exceptions that escaped a thread's function
        self.steps = 0

    # -- lifecycle -------------------------------------------------------------------------------------
    def __enter__(self) -> Scheduler:
        if self.clock.sleep_hook is not None:
            raise RuntimeError("another scheduler is installed on this clock")
        self.clock.sleep_hook = self._sleep
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()
        self.clock.sleep_hook = None

    def stop(self) -> None:
        """Release every parked thread with SchedulerStopped and wait for all threads to end."""
        with self._condition:
            for due in self._due:
                if due.waiter is not None:
                    due.waiter.stopped = True
                    due.waiter.released.set()
            self._due.clear()
        for thread in self._threads:
            thread.join(timeout=10)
        self._threads = [thread for thread in self._threads if thread.is_alive()]

    # -- scheduling ------------------------------------------------------------------------------------
    def call_at(self, at: float, callback: Callable[[], None]) -> None:
        """Run `callback` on the scheduler's thread at virtual time `at` (now, if `at` has passed)."""
        with self._condition:
            heapq.heappush(self._due, _Due(max(at, self.clock.now()), next(self._sequence), callback=callback))

    def spawn(self, function: Callable[[], None], name: str) -> None:
        """Start `function` in a managed thread now; it runs until it sleeps or ends before anything else moves."""
        with self._condition:
            self._running += 1

        def body() -> None:
            self._local.managed = True
            try:
                function()
            except SchedulerStopped:
                pass
            except BaseException as error:
                self.errors.append((name, error))
            finally:
                with self._condition:
                    self._running -= 1
                    self._condition.notify_all()

        thread = threading.Thread(target=body, name=name, daemon=True)
        self._threads.append(thread)
        thread.start()
        if len(self._threads) > 256:
            self._threads = [t for t in self._threads if t.is_alive()]

    def _sleep(self, seconds: float) -> bool:
        """The clock's sleep hook: park a managed thread until the scheduler reaches its wake-up."""
        if not getattr(self._local, "managed", False):
            return False
        waiter = _Waiter(threading.current_thread().name)
        with self._condition:
            heapq.heappush(self._due, _Due(self.clock.now() + seconds, next(self._sequence), waiter=waiter))
            self._running -= 1
            self._condition.notify_all()
        waiter.released.wait()
        if waiter.stopped:
            raise SchedulerStopped
        return True

    # -- the loop --------------------------------------------------------------------------------------
    def run(self, until: float | None = None, *, idle: Callable[[], bool] | None = None) -> None:
        """Advance time and hand out turns until nothing is due, or the next thing is due after `until`.

        `idle`, if given, is asked whenever nothing else is due: return True when it scheduled something more.
        """
        while True:
            with self._condition:
                if not self._condition.wait_for(lambda: self._running == 0, timeout=STUCK_AFTER_REAL_SECONDS):
                    raise SchedulerStuck(f"a thread ran {STUCK_AFTER_REAL_SECONDS:.0f} s of real time without sleeping")
                if not self._due:
                    item = None
                elif until is not None and self._due[0].at > until:
                    return
                else:
                    item = heapq.heappop(self._due)
                    if item.waiter is not None:
                        self._running += 1
            if item is None:
                if idle is not None and idle():
                    continue
                return
            self.steps += 1
            if item.at > self.clock.now():
                self.clock.advance_to(item.at)
            if item.waiter is not None:
                item.waiter.released.set()
            elif item.callback is not None:
                item.callback()

    @property
    def pending(self) -> int:
        with self._condition:
            return len(self._due)
