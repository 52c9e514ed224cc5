"""The describe loop inside one invocation, in virtual time."""

from __future__ import annotations

import time

import pytest

from root_volume_replacement.ec2 import Ec2Refusal, TaskView
from root_volume_replacement.waiting import wait_for_final_state
from sandbox.clock import VirtualClock


@pytest.fixture
def clock():
    with VirtualClock() as c:
        yield c


def view(state):
    return TaskView("replacevol-1", "i-1", state)


def test_describes_every_four_seconds_until_final(clock):
    start = time.time()
    seen = []

    def describe():
        seen.append(time.time() - start)
        return view("succeeded" if time.time() - start >= 10 else "in-progress")

    result = wait_for_final_state(describe, until=start + 57)
    assert result.final and result.task.state == "succeeded"
    assert seen == [0, 4, 8, 12]


def test_stops_before_the_window_closes(clock):
    start = time.time()
    calls = []
    result = wait_for_final_state(lambda: calls.append(1) or view("in-progress"), until=start + 57)
    assert not result.final and result.task.state == "in-progress"
    assert len(calls) == 15  # 0, 4, ..., 56: fifteen describes in a one-minute window
    assert time.time() - start == 56


def test_a_late_poll_still_describes_once(clock):
    start = time.time()
    result = wait_for_final_state(lambda: view("pending"), until=start - 5)
    assert result.task.state == "pending" and time.time() == start


def test_throttling_is_absorbed_and_other_refusals_are_raised(clock):
    answers = iter([Ec2Refusal("RequestLimitExceeded", "slow down", "Describe"), view("succeeded")])

    def describe():
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    result = wait_for_final_state(describe, until=time.time() + 57)
    assert result.final and result.transient_errors == 1

    def refuse():
        raise Ec2Refusal("UnauthorizedOperation", "no", "Describe")

    with pytest.raises(Ec2Refusal):
        wait_for_final_state(refuse, until=time.time() + 57)
