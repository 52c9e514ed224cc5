"""Each crhelper 2.0.12 defect (../shared/GUIDE.md §3), shown answered through the entry point."""

from __future__ import annotations

import json

import pytest

from sandbox import aws_calls, ec2_model, world
from sandbox.ec2_timeline import Timeline

from .harness import Resource, body


@pytest.fixture
def slow_instance(sb):
    instance = world.make_instance(sb.ec2)
    ec2_model.set_timeline(instance.instance_id, Timeline(pending_seconds=1, in_progress_seconds=200))
    return instance


@pytest.mark.parametrize("length", [57, 64, 101, 255])
def test_rule_and_statement_names_fit_for_long_logical_ids(sb, slow_instance, length):
    logical_id = ("Replace" * 40)[:length]
    result = Resource(sb, logical_id=logical_id).create({"InstanceId": slow_instance.instance_id})
    answer = body(result)
    assert answer["Status"] == "SUCCESS" and answer["LogicalResourceId"] == logical_id
    assert len(result.polls) >= 3  # the polls really ran through EventBridge and Lambda's permission
    assert result.leftover_rules == [] and result.leftover_permissions == []


def test_poll_input_stays_small_with_the_largest_valid_properties(sb, slow_instance):
    tags = [{"Key": f"{i:02d}" + "k" * 125, "Value": "v" * 256} for i in range(49)]
    properties = {"InstanceId": slow_instance.instance_id, "Tags": tags, "Trigger": "t" * 1024}
    assert len(json.dumps(properties)) > 8192
    result = Resource(sb).create(properties)
    put_targets = [c for c in aws_calls.calls() if c.operation == "PutTargets"]
    seen_inputs = [len(t["Input"]) for c in put_targets for t in c.params["Targets"]]
    assert body(result)["Status"] == "SUCCESS"
    assert seen_inputs and max(seen_inputs) <= 8192
    assert len(result.polls) >= 3


@pytest.mark.parametrize("options", [{"duplicate_polls": True}, {"poll_delay_seconds": 30}, {"poll_delay_seconds": 59}])
def test_duplicate_or_late_polls_never_send_failed_after_success(sb, slow_instance, options):
    resource = Resource(sb, runtime_options=options)
    result = resource.create({"InstanceId": slow_instance.instance_id})
    statuses = [r.body["Status"] for r in result.responses if isinstance(r.body, dict)]
    assert statuses and set(statuses) == {"SUCCESS"}
    assert result.leftover_rules == [] and result.leftover_permissions == []


def test_reason_keeps_its_beginning_and_every_body_fits(sb):
    instance = world.make_instance(sb.ec2)
    name = "UnknownProperty" + "x" * 3000
    result = Resource(sb, logical_id="L" * 255).create({"InstanceId": instance.instance_id, name: "1"})
    answer = body(result)
    assert answer["Reason"].startswith("Invalid properties: Unknown property 'UnknownPropertyxxx")
    assert all(r.size <= 4096 for r in result.responses)


def test_an_initialisation_failure_reports_a_usable_physical_id(sb):
    instance = world.make_instance(sb.ec2)
    resource = Resource(sb)
    handler_module = __import__("app")
    handler_module.helper.init_failure(RuntimeError("could not create clients"))
    result = resource.create({"InstanceId": instance.instance_id})
    answer = body(result)
    assert answer["Status"] == "FAILED" and "could not create clients" in answer["Reason"]
    assert answer["PhysicalResourceId"].startswith("rootvolumereplacement-failed-")
