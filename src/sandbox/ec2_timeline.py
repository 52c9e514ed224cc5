"""How long a replace-root-volume task spends in each state, and how it ends, per instance.

A task's state is a pure function of the virtual seconds since it started, so tests move the clock and read the
state without anything running in the background.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Outcome = Literal["succeeded", "failed", "failed-detached"]
FINAL_STATES = frozenset({"succeeded", "failed", "failed-detached"})


@dataclass(frozen=True)
class Timeline:
    """pending → in-progress → succeeded, or → failing → failed, or → failing-detached → failed-detached.

    `stuck_in` freezes the task for fault tests: a state of the normal path (e.g. 'in-progress') is entered on
    schedule and never left; any other name (the undocumented-in-the-model 'failing-detached' on a success path,
    or a state AWS may add later) follows 'pending' and lasts forever. A stuck task never completes or has effects.
    """

    pending_seconds: float = 2
    in_progress_seconds: float = 18
    failing_seconds: float = 5
    outcome: Outcome = "succeeded"
    stuck_in: str | None = None

    def __post_init__(self) -> None:
        if min(self.pending_seconds, self.in_progress_seconds, self.failing_seconds) < 0:
            raise ValueError("durations must not be negative")
        if self.outcome not in FINAL_STATES:
            raise ValueError(f"outcome must be one of {sorted(FINAL_STATES)}, not {self.outcome!r}")

    def phases(self) -> list[tuple[str, float]]:
        """The running states in order, with how long each lasts (inf for the stuck one)."""
        path = [("pending", self.pending_seconds), ("in-progress", self.in_progress_seconds)]
        if self.outcome == "failed":
            path.append(("failing", self.failing_seconds))
        elif self.outcome == "failed-detached":
            path.append(("failing-detached", self.failing_seconds))
        if self.stuck_in is None:
            return path
        names = [name for name, _ in path]
        if self.stuck_in in names:
            cut = names.index(self.stuck_in)
            return [*path[:cut], (self.stuck_in, float("inf"))]
        return [path[0], (self.stuck_in, float("inf"))]

    @property
    def duration(self) -> float | None:
        """Seconds from start to the final state; None when the task never ends."""
        total = sum(seconds for _, seconds in self.phases())
        return None if total == float("inf") else total

    def state_at(self, elapsed: float) -> str:
        for name, seconds in self.phases():
            if elapsed < seconds:
                return name
            elapsed -= seconds
        return self.outcome


@dataclass
class _Timelines:
    default: Timeline
    per_instance: dict[str, Timeline]


_timelines = _Timelines(default=Timeline(), per_instance={})


def set_timeline(instance_id: str, timeline: Timeline) -> None:
    """Tasks created for this instance from now on follow `timeline`."""
    _timelines.per_instance[instance_id] = timeline


def set_default_timeline(timeline: Timeline) -> None:
    _timelines.default = timeline


def timeline_for(instance_id: str) -> Timeline:
    return _timelines.per_instance.get(instance_id, _timelines.default)


def reset_timelines() -> None:
    _timelines.default = Timeline()
    _timelines.per_instance.clear()
