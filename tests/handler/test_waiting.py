"""The describe loop inside one invocation, in virtual time."""

from __future__ import annotations

import itertools
import random
import time

import pytest

from root_volume_replacement.ec2 import Ec2Refusal, TaskView
from root_volume_replacement.waiting import DescribePacer, retry_transient, wait_for_final_state
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


# -- pacing under throttling (EC2's describe bucket is shared by the whole account) ---------------------------
def throttled():
    return Ec2Refusal("RequestLimitExceeded", "Request limit exceeded.", "DescribeReplaceRootVolumeTasks")


def test_the_pace_is_exactly_four_seconds_until_ec2_throttles():
    pacer = DescribePacer(jitter=random.Random(1))
    assert [pacer.pause() for _ in range(3)] == [4.0, 4.0, 4.0]
    pacer.answered()
    assert pacer.interval == 4.0


def test_throttling_doubles_the_interval_up_to_a_ceiling_with_jitter_and_it_recovers_slowly():
    pacer = DescribePacer(jitter=random.Random(1))
    for expected in (8, 16, 32, 32):
        pacer.throttled()
        assert pacer.interval == expected
    pauses = [pacer.pause() for _ in range(50)]
    assert all(24 <= p <= 40 for p in pauses) and len(set(pauses)) > 40  # spread: pollers do not fall into step
    answered = 0
    while pacer.interval > 4:
        pacer.answered()
        answered += 1
    assert answered == 20  # 32 s back to 4 s takes twenty answered describes (10 % each)
    assert pacer.pause() == 4.0


def test_throttled_describes_make_the_loop_slow_down_and_then_succeed(clock):
    start = time.time()
    seen = []

    def describe():
        seen.append(time.time() - start)
        if len(seen) <= 3:
            raise throttled()
        return view("succeeded")

    pacer = DescribePacer(jitter=random.Random(2))
    result = wait_for_final_state(describe, until=start + 300, pacer=pacer)
    assert result.final and result.transient_errors == 3
    gaps = [b - a for a, b in itertools.pairwise(seen)]
    assert gaps[0] >= 6 and gaps[1] >= 12 and gaps[2] >= 24  # 8, 16, 32 s each within +-25 %


def test_the_pace_outlives_the_invocation_that_learnt_it(clock):
    pacer = DescribePacer(jitter=random.Random(3))
    calls = []

    def describe():
        calls.append(1)
        if len(calls) <= 2:
            raise throttled()
        return view("in-progress")

    wait_for_final_state(describe, until=time.time() + 57, pacer=pacer)
    assert pacer.interval > 4  # the next poll in this execution environment starts slower


def test_the_first_look_waits_until_not_before(clock):
    start = time.time()
    seen = []
    wait_for_final_state(
        lambda: seen.append(time.time() - start) or view("succeeded"), until=start + 57, not_before=start + 4
    )
    assert seen == [4]
    seen.clear()
    late = time.time()
    wait_for_final_state(lambda: seen.append(time.time() - late) or view("succeeded"), until=late, not_before=late + 4)
    assert seen == [0]  # not_before past the window: a late poll still looks at once


# -- retrying a start that EC2 throttles ---------------------------------------------------------------------
def test_retry_transient_keeps_trying_until_the_deadline_then_raises_the_refusal(clock):
    start = time.time()
    attempts = []

    def always_throttled():
        attempts.append(time.time() - start)
        raise throttled()

    with pytest.raises(Ec2Refusal) as raised:
        retry_transient(always_throttled, deadline=start + 80, jitter=random.Random(4))
    assert raised.value.is_throttling
    assert 8 <= len(attempts) <= 80 and attempts[-1] <= 80
    assert time.time() - start <= 80


def test_retry_transient_returns_once_ec2_accepts_and_raises_other_refusals_at_once(clock):
    answers = iter([throttled(), throttled(), "task"])

    def start_task():
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    assert retry_transient(start_task, deadline=time.time() + 80, jitter=random.Random(5)) == "task"

    def refused():
        raise Ec2Refusal("IncorrectInstanceState", "stopped", "CreateReplaceRootVolumeTask")

    before = time.time()
    with pytest.raises(Ec2Refusal):
        retry_transient(refused, deadline=before + 80)
    assert time.time() == before
