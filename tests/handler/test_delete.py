"""Delete never fails, never destroys, and never races a running replacement."""

from __future__ import annotations

from sandbox import aws_calls, ec2_model, world
from sandbox.ec2_timeline import Timeline

from .harness import Resource, body


def test_delete_of_a_finished_task_succeeds_at_once_and_changes_nothing(sb):
    instance = world.make_instance(sb.ec2)
    resource = Resource(sb)
    body(resource.create({"InstanceId": instance.instance_id}))
    volumes_before = sb.ec2.describe_volumes()["Volumes"]
    aws_calls.reset()
    result = resource.delete()
    answer = body(result)
    assert answer["Status"] == "SUCCESS" and answer["PhysicalResourceId"] == resource.physical_id
    assert aws_calls.ec2_mutations() == []
    assert sb.ec2.describe_volumes()["Volumes"] == volumes_before
    assert result.virtual_seconds < 2  # no 120 s sleep_on_delete
    assert result.polls == []


def test_delete_after_a_failed_create_succeeds_with_the_same_id(sb):
    instance = world.make_instance(sb.ec2)
    resource = Resource(sb)
    failed = body(resource.create({"InstanceId": instance.instance_id, "Colour": "blue"}))
    assert failed["Status"] == "FAILED"
    answer = body(resource.delete(failed["PhysicalResourceId"]))
    assert answer["Status"] == "SUCCESS" and answer["PhysicalResourceId"] == failed["PhysicalResourceId"]


def test_delete_with_malformed_properties_succeeds(sb):
    resource = Resource(sb)
    resource.properties = {"InstanceId": ["not", "an", "id"], "Tags": "x", "Bogus": True}
    answer = body(resource.delete("replacevol-0123456789abcdef0"))
    assert answer["Status"] == "SUCCESS"


def test_delete_waits_for_a_running_replacement_to_end(sb):
    instance = world.make_instance(sb.ec2)
    ec2_model.set_timeline(instance.instance_id, Timeline(in_progress_seconds=400))
    resource = Resource(sb)
    create = resource.stack.create("RootVolume", {"InstanceId": instance.instance_id, "ServiceTimeout": "60"})
    created = body(resource.runtime.run(create))
    assert created["Status"] == "FAILED" and "ServiceTimeout" in created["Reason"]
    result = resource.delete(created["PhysicalResourceId"])
    answer = body(result)
    assert answer["Status"] == "SUCCESS"
    task = next(t for t in ec2_model.tasks() if t.id == created["PhysicalResourceId"])
    accepted = next(r for r in result.responses if r.accepted)
    assert accepted.received_at >= task.completed_at()
    assert accepted.received_at - task.completed_at() <= 10
    assert result.leftover_rules == [] and result.leftover_permissions == []


def test_delete_waiting_is_bounded_by_service_timeout_and_still_succeeds(sb):
    instance = world.make_instance(sb.ec2)
    ec2_model.set_timeline(instance.instance_id, Timeline(in_progress_seconds=10_000))
    resource = Resource(sb)
    created = body(
        resource.runtime.run(resource.stack.create("R", {"InstanceId": instance.instance_id, "ServiceTimeout": "60"}))
    )
    resource.properties = {"InstanceId": instance.instance_id, "ServiceTimeout": "120"}
    result = resource.delete(created["PhysicalResourceId"])
    answer = body(result)
    assert answer["Status"] == "SUCCESS"
    accepted = next(r for r in result.responses if r.accepted)
    assert accepted.received_at - result.started_at < 120
