"""Faults injected through the sandbox: one replacement per request, no contradictory answers, nothing leaked."""

from __future__ import annotations

import sys
import time

import pytest

from sandbox import aws_calls, ec2_model, world
from sandbox.clock import FunctionTimedOut
from sandbox.ec2_timeline import Timeline

from .harness import Resource, body

# Every AWS call the function makes over a Create with polls, a tags-only Update and a Delete.
CALLS = [
    ("ec2", "DescribeInstances"),
    ("ec2", "CreateReplaceRootVolumeTask"),
    ("ec2", "DescribeReplaceRootVolumeTasks"),
    ("ec2", "CreateTags"),
    ("ec2", "DeleteTags"),
    ("events", "PutRule"),
    ("events", "PutTargets"),
    ("events", "DescribeRule"),
    ("events", "RemoveTargets"),
    ("events", "DeleteRule"),
]  # no Lambda call: the template grants EventBridge's permission once (PollingInvokePermission)


@pytest.fixture
def instance(sb):
    created = world.make_instance(sb.ec2)
    ec2_model.set_timeline(created.instance_id, Timeline(pending_seconds=2, in_progress_seconds=130))
    aws_calls.reset()
    return created


def handler_module(name):
    """A module of the handler as the sandbox loaded it (each sandbox imports the handler afresh, like Lambda)."""
    return sys.modules[f"root_volume_replacement.{name}"]


def intercept(monkeypatch, function, *, on_call, action, after_ec2=False):
    """Patch the handler's ec2.<function>: its `on_call`-th call runs `action` before (or after) EC2 answers.

    Returns the calls EC2 answered (a call EC2 refused raises before it is recorded).
    """
    ec2 = handler_module("ec2")
    original = getattr(ec2, function)
    seen = 0
    answered: list[tuple] = []

    def wrapper(*args):
        nonlocal seen
        seen += 1
        if seen == on_call and not after_ec2:
            action()
        answer = original(*args)
        answered.append(args)
        if seen == on_call and after_ec2:
            action()
        return answer

    monkeypatch.setattr(ec2, function, wrapper)
    return answered


def hang():
    """An API call that never returns: Lambda ends the invocation at its timeout."""
    time.sleep(600)


def statuses(result):
    return [r.body["Status"] for r in result.responses if r.accepted and isinstance(r.body, dict)]


def tasks_on(instance_id):
    return [t for t in ec2_model.tasks() if t.instance_id == instance_id]


def assert_clean(result):
    assert result.leftover_rules == [] and result.leftover_permissions == []


@pytest.mark.parametrize("kind", ["throttle", "server_error"])
@pytest.mark.parametrize(("service", "operation"), CALLS, ids=[op for _, op in CALLS])
def test_transient_faults_on_every_call_are_absorbed(sb, instance, service, operation, kind):
    aws_calls.inject_fault(service, operation, kind, times=2)
    resource = Resource(sb)
    properties = {"InstanceId": instance.instance_id, "Tags": [{"Key": "a", "Value": "1"}]}
    created = resource.create(properties)
    assert statuses(created) == ["SUCCESS"]
    assert_clean(created)
    assert len(tasks_on(instance.instance_id)) == 1
    aws_calls.inject_fault(service, operation, kind, times=2)
    updated = resource.update({**properties, "Tags": [{"Key": "b", "Value": "2"}]})
    assert statuses(updated) == ["SUCCESS"]
    aws_calls.inject_fault(service, operation, kind, times=2)
    assert statuses(resource.delete()) == ["SUCCESS"]
    assert len(tasks_on(instance.instance_id)) == 1
    assert any(c.faulted for c in aws_calls.calls() if c.operation == operation)


def test_describes_failing_for_minutes_are_never_fatal(sb, instance):
    aws_calls.inject_fault("ec2", "DescribeReplaceRootVolumeTasks", "server_error", times=60)
    result = Resource(sb).create({"InstanceId": instance.instance_id})
    assert statuses(result) == ["SUCCESS"]
    assert_clean(result)


def test_a_crash_between_put_rule_and_put_targets_leaks_nothing_and_still_answers(sb, instance, monkeypatch):
    resource = Resource(sb)

    def crash(self, name):
        raise RuntimeError("connection reset while putting targets")

    monkeypatch.setattr(handler_module("crhelper_adapter").ReplacementResource, "_put_targets", crash)
    result = resource.create({"InstanceId": instance.instance_id})
    answer = body(result)
    assert answer["Status"] == "FAILED" and "Could not schedule waiting" in answer["Reason"]
    task = tasks_on(instance.instance_id)[0]
    assert answer["PhysicalResourceId"] == task.id and task.id in answer["Reason"]
    assert_clean(result)


def test_a_timeout_between_put_rule_and_put_targets_is_redelivered_and_converges(sb, instance, monkeypatch):
    resource = Resource(sb)
    adapter = handler_module("crhelper_adapter").ReplacementResource
    original = adapter._put_targets
    crashed: list[bool] = []

    def time_out_once(self, name):
        if not crashed:
            crashed.append(True)
            raise FunctionTimedOut("killed between put_rule and put_targets")
        return original(self, name)

    monkeypatch.setattr(adapter, "_put_targets", time_out_once)
    result = resource.create({"InstanceId": instance.instance_id})
    assert statuses(result) == ["SUCCESS"]
    assert [i.attempt for i in result.invocations if not i.poll][:2] == [0, 1]  # Lambda redelivered the Create
    assert len(tasks_on(instance.instance_id)) == 1
    assert_clean(result)


def test_the_function_timing_out_mid_wait_is_retried_and_still_answers_once(sb, instance, monkeypatch):
    resource = Resource(sb)
    intercept(monkeypatch, "describe_task", on_call=21, action=hang)  # well into the waiting, in a poll
    result = resource.create({"InstanceId": instance.instance_id})
    assert any(i.outcome == "timeout" for i in result.invocations)
    assert statuses(result) == ["SUCCESS"]
    assert len(tasks_on(instance.instance_id)) == 1
    assert_clean(result)


def test_a_timeout_after_ec2_accepted_the_task_does_not_start_a_second_one(sb, instance, monkeypatch):
    resource = Resource(sb)
    calls = intercept(monkeypatch, "start_task", on_call=1, action=hang, after_ec2=True)
    result = resource.create({"InstanceId": instance.instance_id})
    assert statuses(result) == ["SUCCESS"]
    # Lambda ended the first invocation at its timeout and delivered the Create again (in a fresh environment)
    assert [i.attempt for i in result.invocations if not i.poll][:2] == [0, 1]
    assert len(calls) == 1 and len(tasks_on(instance.instance_id)) == 1
    assert_clean(result)


@pytest.mark.parametrize("request_type", ["Create", "Update", "Delete"])
def test_every_request_delivered_twice_gives_one_replacement_and_the_same_answer(sb, instance, request_type):
    resource = Resource(sb)
    properties = {"InstanceId": instance.instance_id}
    if request_type == "Create":
        event = resource.stack.create("RootVolume", properties)
    else:
        body(resource.create(properties))
        if request_type == "Update":
            event = resource.stack.update(
                "RootVolume", resource.physical_id, {**properties, "Trigger": "2"}, properties
            )
        else:
            event = resource.stack.delete("RootVolume", resource.physical_id, properties)
    before = len(tasks_on(instance.instance_id))
    first, second = resource.runtime.run(event), resource.runtime.run(event)
    # the second delivery answers again, identically: CloudFormation keeps the first answer
    assert statuses(first) == ["SUCCESS"] and statuses(second) == ["SUCCESS", "SUCCESS"]
    assert len({r.body["PhysicalResourceId"] for r in second.responses}) == 1
    started = len(tasks_on(instance.instance_id)) - before
    assert started == (0 if request_type == "Delete" else 1)
    assert_clean(second)


@pytest.mark.parametrize("options", [{"duplicate_polls": True}, {"poll_delay_seconds": 45}])
def test_every_poll_twice_or_late_gives_one_consistent_answer(sb, instance, options):
    result = Resource(sb, runtime_options=options).create({"InstanceId": instance.instance_id})
    assert set(statuses(result)) == {"SUCCESS"}
    assert len(tasks_on(instance.instance_id)) == 1
    assert_clean(result)


@pytest.mark.parametrize("state", ["failing-detached", "rebooting-instance"])
def test_a_task_stuck_in_a_state_the_model_does_not_know_ends_at_the_deadline(sb, instance, state):
    ec2_model.set_timeline(instance.instance_id, Timeline(pending_seconds=2, stuck_in=state))
    resource = Resource(sb)
    result = resource.create({"InstanceId": instance.instance_id, "ServiceTimeout": "300"})
    answer = body(result)
    assert answer["Status"] == "FAILED"
    assert "did not finish within ServiceTimeout (300 s)" in answer["Reason"] and state in answer["Reason"]
    assert_clean(result)
    deleted = resource.delete()
    assert statuses(deleted) == ["SUCCESS"]
    assert_clean(deleted)


def test_instance_terminated_while_its_task_runs(sb, instance, monkeypatch):
    resource = Resource(sb)
    intercept(
        monkeypatch,
        "describe_task",
        on_call=5,
        action=lambda: sb.ec2.terminate_instances(InstanceIds=[instance.instance_id]),
    )
    answer = body(resource.create({"InstanceId": instance.instance_id}))
    assert answer["Status"] == "FAILED" and "ended in failed" in answer["Reason"]
    assert statuses(resource.delete()) == ["SUCCESS"]


@pytest.mark.parametrize(
    ("fault", "attempts"),
    [("fail_next", 3), ("refuse_connections", 2), ("hang_next", 1)],
)
def test_response_url_faults_are_retried_a_bounded_number_of_times(sb, instance, fault, attempts):
    getattr(sb.endpoint, fault)(attempts)
    result = Resource(sb).create({"InstanceId": instance.instance_id})
    assert statuses(result) == ["SUCCESS"]


def test_a_response_url_that_never_accepts_ends_the_retries_and_logs_the_outcome(sb, instance, caplog):
    sb.endpoint.fail_next(50, status=503)
    result = Resource(sb).create({"InstanceId": instance.instance_id})
    assert statuses(result) == []
    attempts = [r for r in result.responses if r.outcome == "injected-failure"]
    assert len(attempts) == 5
    assert result.virtual_seconds < 300  # bounded: no endless loop
    assert "Response could not be delivered" in caplog.text


def test_a_redelivered_create_keeps_the_deadline_of_its_first_delivery(sb, instance, monkeypatch):
    ec2_model.set_timeline(instance.instance_id, Timeline(pending_seconds=2, in_progress_seconds=3000))
    resource = Resource(sb)
    # first delivery: EC2 accepted, then the invocation times out
    intercept(monkeypatch, "start_task", on_call=1, action=hang, after_ec2=True)
    result = resource.create({"InstanceId": instance.instance_id, "ServiceTimeout": "300"})
    answer = body(result)
    assert answer["Status"] == "FAILED" and "ServiceTimeout (300 s)" in answer["Reason"]
    accepted = next(r for r in result.responses if r.accepted)
    assert accepted.received_at - result.started_at < 300  # before CloudFormation's own deadline
