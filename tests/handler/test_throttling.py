"""EC2 and EventBridge throttle per account: many resources in one stack share the same buckets.

What a user notices: a stack with hundreds of replacements never fails because an API said "slow down", every
replacement still starts exactly once, and the outcome still arrives with its attributes.
"""

from __future__ import annotations

import itertools
import sys
import time

import pytest
from botocore.exceptions import ClientError

from sandbox import aws_calls, ec2_model, lambda_function, template, world
from sandbox.ec2_timeline import Timeline

from .harness import Resource, body, lag


def handler_module(name):
    """A module of the handler as the sandbox loaded it (each sandbox imports the handler afresh, like Lambda)."""
    return sys.modules[f"root_volume_replacement.{name}"]


def throttled(action):
    return handler_module("ec2").Ec2Refusal("RequestLimitExceeded", "Request limit exceeded.", action)


def tasks_on(instance_id):
    return [t for t in ec2_model.tasks() if t.instance_id == instance_id]


def spans_overlap(result):
    spans = sorted((i.started_at, i.ended_at) for i in result.invocations)
    return any(later[0] < earlier[1] for earlier, later in itertools.pairwise(spans))


@pytest.fixture
def instance(sb):
    created = world.make_instance(sb.ec2)
    ec2_model.set_timeline(created.instance_id, Timeline(pending_seconds=2, in_progress_seconds=48))
    return created


def test_a_start_throttled_past_the_invocations_budget_is_redelivered_and_starts_once(sb, instance, monkeypatch):
    resource = Resource(sb)
    ec2 = handler_module("ec2")
    original = ec2.start_task
    begin = time.time()
    attempts = []

    def throttled_for_100_seconds(*args):
        attempts.append(time.time() - begin)
        if time.time() - begin < 100:
            raise throttled("CreateReplaceRootVolumeTask")
        return original(*args)

    monkeypatch.setattr(ec2, "start_task", throttled_for_100_seconds)
    result = resource.create({"InstanceId": instance.instance_id})
    answer = body(result)
    assert answer["Status"] == "SUCCESS" and answer["Data"]["NewRootVolumeId"]
    # The first invocation kept trying until its time was nearly up, then ended with an error (no answer sent);
    # Lambda delivered the same event a minute later and it started the task.
    first, second = result.invocations[0], result.invocations[1]
    assert first.outcome == "error" and "RequestLimitExceeded to CreateReplaceRootVolumeTask" in (first.error or "")
    assert max(a for a in attempts if a < 90) <= 80 and len([a for a in attempts if a < 90]) >= 8
    assert second.attempt == 1 and second.started_at - first.ended_at == 60
    assert len(tasks_on(instance.instance_id)) == 1
    assert result.leftover_rules == [] and result.leftover_permissions == []


def test_a_start_throttled_briefly_is_retried_within_the_same_invocation(sb, instance):
    aws_calls.inject_fault("ec2", "CreateReplaceRootVolumeTask", "throttle", times=7)  # beyond botocore's 3 attempts
    aws_calls.inject_fault("ec2", "DescribeInstances", "throttle", times=5)
    result = Resource(sb).create({"InstanceId": instance.instance_id})
    assert body(result)["Status"] == "SUCCESS"
    assert [i.outcome for i in result.invocations].count("error") == 0
    assert len(tasks_on(instance.instance_id)) == 1


def test_describes_throttled_for_a_minute_slow_down_and_never_fail(sb, instance):
    ec2_model.set_timeline(instance.instance_id, Timeline(pending_seconds=2, in_progress_seconds=178))
    aws_calls.inject_fault("ec2", "DescribeReplaceRootVolumeTasks", "throttle", times=8)  # 4 describes, 2 tries each
    result = Resource(sb).create({"InstanceId": instance.instance_id})
    answer = body(result)
    assert answer["Status"] == "SUCCESS"
    first_tries = [c.at for c in aws_calls.calls() if c.operation == "DescribeReplaceRootVolumeTasks"][:8:2]
    gaps = [b - a for a, b in itertools.pairwise(first_tries)]
    assert gaps[0] >= 6 and gaps[1] >= 12  # 8 s, then 16 s (+-25 % jitter) instead of 4 s
    # The pace comes back slowly (10 % per answered describe): a few minutes later the lag is back to seconds.
    assert lag(result, answer["PhysicalResourceId"]) <= 30
    assert not spans_overlap(result)


def test_a_new_root_volume_throttled_at_the_windows_end_is_read_by_the_next_poll(sb, instance, monkeypatch):
    resource = Resource(sb)
    ec2 = handler_module("ec2")
    original = ec2.root_volume_id
    begin = time.time()

    def throttled_until_70_seconds(instance_id):
        if 40 < time.time() - begin < 70:
            raise throttled("DescribeInstances")
        return original(instance_id)

    monkeypatch.setattr(ec2, "root_volume_id", throttled_until_70_seconds)
    result = resource.create({"InstanceId": instance.instance_id})
    answer = body(result)
    assert answer["Status"] == "SUCCESS"
    assert answer["Data"]["NewRootVolumeId"] == world.root_volume_of(sb.ec2, instance.instance_id)
    assert len(result.polls) == 1 and round(result.response.received_at - begin) >= 70
    assert not spans_overlap(result)  # the first invocation gave up at its window's end, not the Lambda timeout


def test_scheduling_polls_throttled_past_the_budget_is_redelivered_and_answers_once(sb, instance, monkeypatch):
    resource = Resource(sb)
    adapter = handler_module("crhelper_adapter").ReplacementResource
    original = adapter._put_rule
    begin = time.time()

    def throttled_put_rule(self):
        if time.time() - begin < 100:
            raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}, "PutRule")
        return original(self)

    monkeypatch.setattr(adapter, "_put_rule", throttled_put_rule)
    result = resource.create({"InstanceId": instance.instance_id})
    assert [r.body["Status"] for r in result.responses if r.accepted] == ["SUCCESS"]
    assert [i.outcome for i in result.invocations][:2] == ["error", "ok"]
    assert len(tasks_on(instance.instance_id)) == 1
    assert result.leftover_rules == [] and result.leftover_permissions == []


def test_polling_adds_no_statement_to_the_functions_policy(sb, instance):
    """Lambda's resource-based policy is limited to 20 KB: one statement per waiting resource (crhelper's way)
    fills it at about 60 resources. The template grants rules named rvr-* once; the function adds nothing."""
    result = Resource(sb).create({"InstanceId": instance.instance_id})
    assert body(result)["Status"] == "SUCCESS"
    assert not [c for c in aws_calls.calls() if c.service == "lambda"]
    statements = lambda_function.policy_statements(sb.function_name, sb.region, sb.account)
    assert [s["Sid"] for s in statements] == ["template-PollingInvokePermission"]
    granted = template.invoke_permissions(sb.function_arn, region=sb.region, account=sb.account)
    assert granted[0]["Condition"]["ArnLike"]["AWS:SourceArn"].endswith(":rule/rvr-*")


def test_a_long_replacement_is_polled_through_the_templates_permission(sb, instance):
    ec2_model.set_timeline(instance.instance_id, Timeline(pending_seconds=2, in_progress_seconds=200))
    result = Resource(sb).create({"InstanceId": instance.instance_id})
    assert body(result)["Status"] == "SUCCESS"
    assert len(result.polls) == 3 and not [e for e in result.timeline if e.kind == "undeliverable"]
