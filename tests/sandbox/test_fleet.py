"""Many invocations at once on one virtual clock: the scheduler, the account's rate limits and quotas, the fleet."""

from __future__ import annotations

import threading
import time

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from tests.sandbox.sandbox_fixtures import FAKE_HANDLER

from sandbox import quotas, throttling
from sandbox.clock import FunctionTimedOut, VirtualClock
from sandbox.fleet import FleetSpec, run_fleet
from sandbox.scheduler import Scheduler
from sandbox.session import Sandbox


# -- the scheduler ---------------------------------------------------------------------------------------------
def test_threads_sleep_concurrently_in_virtual_time_and_take_turns_in_order():
    seen: list[tuple[str, float]] = []
    with VirtualClock() as clock, Scheduler(clock) as scheduler:
        start = clock.now()

        def sleeper(name: str, pause: float) -> None:
            for _ in range(3):
                time.sleep(pause)
                seen.append((name, clock.now() - start))

        scheduler.call_at(start, lambda: scheduler.spawn(lambda: sleeper("a", 4), "a"))
        scheduler.call_at(start, lambda: scheduler.spawn(lambda: sleeper("b", 6), "b"))
        scheduler.run()
        assert clock.now() - start == 18  # not 12 + 18: both slept at the same time
    # at 12 both wake: b asked first (at 6), so b goes first
    assert seen == [("a", 4), ("b", 6), ("a", 8), ("b", 12), ("a", 12), ("b", 18)]
    assert threading.active_count() < 50


def test_a_deadline_still_times_a_thread_out_and_the_clock_stops_at_it():
    outcomes: list[str] = []
    with VirtualClock() as clock, Scheduler(clock) as scheduler:
        start = clock.now()

        def invocation() -> None:
            try:
                with clock.deadline(start + 90):
                    time.sleep(600)
            except FunctionTimedOut:
                outcomes.append(f"timeout at {clock.now() - start:.0f}")

        scheduler.call_at(start, lambda: scheduler.spawn(invocation, "slow"))
        scheduler.run()
    assert outcomes == ["timeout at 90"]


def test_run_until_leaves_later_wake_ups_parked_and_stop_releases_them():
    with VirtualClock() as clock, Scheduler(clock) as scheduler:
        start = clock.now()
        scheduler.call_at(start, lambda: scheduler.spawn(lambda: time.sleep(1000), "long"))
        scheduler.run(until=start + 100)
        assert scheduler.pending == 1 and clock.now() == start
    assert scheduler.errors == []


# -- token buckets -----------------------------------------------------------------------------------------------
def test_a_token_bucket_allows_its_burst_then_its_refill_rate():
    bucket = throttling.TokenBucket(capacity=50, refill_per_second=5)
    assert sum(bucket.take(0.0) for _ in range(80)) == 50
    assert sum(bucket.take(2.0) for _ in range(80)) == 10
    assert sum(bucket.take(1000.0) for _ in range(80)) == 50  # never more than the burst


def test_ec2_buckets_are_per_action_and_answer_request_limit_exceeded(sandbox: Sandbox):
    policy = throttling.install(throttling.ThrottlePolicy())
    try:
        client = boto3.client("ec2", config=Config(retries={"mode": "standard", "total_max_attempts": 1}))
        refused = 0
        for _ in range(120):
            try:
                client.describe_instances()
            except ClientError as error:
                assert error.response["Error"]["Code"] == "RequestLimitExceeded"
                assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 503
                refused += 1
        assert refused == 20  # 100 burst, no time passed
        client.describe_volumes()  # another action, its own bucket
        assert policy.throttled[("ec2", "DescribeInstances")] == 20
        assert throttling.ec2_bucket_size("CreateReplaceRootVolumeTask") == throttling.EC2_MUTATING
    finally:
        throttling.uninstall()


def test_lambdas_resource_policy_is_limited_to_20_kb(sandbox: Sandbox):
    sandbox.runtime(FAKE_HANDLER)  # registers the function
    quotas.install()
    try:
        added = 0
        with pytest.raises(ClientError) as refused:
            for index in range(200):
                sandbox.lambda_.add_permission(
                    FunctionName=sandbox.function_name,
                    StatementId=f"rule-{index}",
                    Action="lambda:InvokeFunction",
                    Principal="events.amazonaws.com",
                    SourceArn=f"arn:aws:events:us-east-1:123456789012:rule/Replacement{index:04d}ABCDEFGH",
                )
                added += 1
        assert refused.value.response["Error"]["Code"] == "PolicyLengthExceededException"
        assert 40 < added < 80
    finally:
        quotas.uninstall()


# -- the fleet ---------------------------------------------------------------------------------------------------
def test_a_small_fleet_all_succeeds_with_one_invocation_per_resource_at_a_time():
    result = run_fleet(FleetSpec(durations=(30.0, 75.5, 140.2, 200.0)))
    assert result.succeeded == 4 and result.stopped_because.startswith("every request answered")
    assert all(r.lag is not None and 0 <= r.lag <= 5 for r in result.resources)
    assert max(result.per_resource_concurrency().values()) == 1
    assert result.peak_concurrency == 4 and result.scheduler_errors == []
    assert result.stack_seconds is not None and 200 <= result.stack_seconds <= 205


def test_a_fleet_run_is_reproducible():
    first = run_fleet(FleetSpec(durations=(40.0, 90.0)))
    second = run_fleet(FleetSpec(durations=(40.0, 90.0)))
    assert [r.lag for r in first.resources] == [r.lag for r in second.resources]


def test_without_concurrency_left_lambda_holds_events_back_and_nothing_is_lost():
    result = run_fleet(FleetSpec(durations=(100.0, 100.0, 100.0), concurrency=1))
    assert result.succeeded == 3
    assert result.lambda_throttled_deliveries > 0 and result.peak_concurrency == 1
