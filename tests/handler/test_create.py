"""Create, through the entry point CloudFormation uses, against the sandbox."""

from __future__ import annotations

import pytest

from sandbox import aws_calls, ec2_model, world
from sandbox.ec2_timeline import Timeline

from .harness import Resource, body, lag, replacements_started


@pytest.fixture
def instance(sb):
    return world.make_instance(sb.ec2)


def tags_of(sb, task_id):
    task = sb.ec2.describe_replace_root_volume_tasks(ReplaceRootVolumeTaskIds=[task_id])["ReplaceRootVolumeTasks"][0]
    return {t["Key"]: t["Value"] for t in task.get("Tags", [])}


def test_create_from_launch_state_succeeds_with_every_attribute(sb, instance):
    resource = Resource(sb)
    result = resource.create({"InstanceId": instance.instance_id, "Tags": [{"Key": "team", "Value": "ops"}]})
    answer = body(result)
    assert answer["Status"] == "SUCCESS"
    task_id = answer["PhysicalResourceId"]
    assert task_id.startswith("replacevol-")
    data = answer["Data"]
    new_root = world.root_volume_of(sb.ec2, instance.instance_id)
    assert data == {
        "TaskId": task_id,
        "TaskState": "succeeded",
        "InstanceId": instance.instance_id,
        "StartTime": data["StartTime"],
        "CompleteTime": data["CompleteTime"],
        "ReplacedRootVolumeId": instance.root_volume_id,
        "NewRootVolumeId": new_root,
        "ImageId": "",
        "SnapshotId": "",
        "DeleteReplacedRootVolume": "false",
    }
    assert new_root != instance.root_volume_id and data["StartTime"] and data["CompleteTime"]
    # the old root volume is kept, detached
    old = sb.ec2.describe_volumes(VolumeIds=[instance.root_volume_id])["Volumes"][0]
    assert old["State"] == "available"
    assert tags_of(sb, task_id)["team"] == "ops"
    assert result.leftover_rules == [] and result.leftover_permissions == []


def test_create_from_snapshot_deleting_the_old_root(sb, instance):
    snapshot = world.snapshot_root(sb.ec2, instance.instance_id)
    result = Resource(sb).create(
        {"InstanceId": instance.instance_id, "SnapshotId": snapshot, "DeleteReplacedRootVolume": True}
    )
    data = body(result)["Data"]
    assert data["SnapshotId"] == snapshot and data["DeleteReplacedRootVolume"] == "true"
    assert (
        sb.ec2.describe_volumes(Filters=[{"Name": "volume-id", "Values": [instance.root_volume_id]}])["Volumes"] == []
    )


def test_create_from_an_ami_changes_the_instance_image(sb, instance):
    image = world.make_image(sb.ec2, root_size=8)
    result = Resource(sb).create(
        {"InstanceId": instance.instance_id, "ImageId": image, "VolumeInitializationRate": 200}
    )
    assert body(result)["Data"]["ImageId"] == image
    described = sb.ec2.describe_instances(InstanceIds=[instance.instance_id])["Reservations"][0]["Instances"][0]
    assert described["ImageId"] == image


def test_create_from_a_volume_attaches_that_volume(sb, instance):
    volume = world.make_volume(sb.ec2, az="us-east-1a", from_snapshot=instance.launch_snapshot_id)
    result = Resource(sb).create({"InstanceId": instance.instance_id, "VolumeId": volume})
    assert body(result)["Data"]["NewRootVolumeId"] == volume


def test_a_twenty_second_replacement_is_heard_within_seconds_without_waiting_for_a_poll(sb, instance):
    ec2_model.set_timeline(instance.instance_id, Timeline(pending_seconds=2, in_progress_seconds=18))
    result = Resource(sb).create({"InstanceId": instance.instance_id})
    task_id = body(result)["PhysicalResourceId"]
    assert lag(result, task_id) <= 10
    assert result.polls == []  # answered by the first invocation


@pytest.mark.parametrize("seconds", [7, 61, 119, 125, 601, 1799])
def test_outcome_heard_within_ten_seconds_whatever_the_length(sb, instance, seconds):
    ec2_model.set_timeline(instance.instance_id, Timeline(pending_seconds=1, in_progress_seconds=seconds - 1))
    result = Resource(sb).create({"InstanceId": instance.instance_id})
    assert lag(result, body(result)["PhysicalResourceId"]) <= 10
    assert result.leftover_rules == [] and result.leftover_permissions == []


def test_at_most_fifteen_describes_per_minute_of_waiting(sb, instance):
    ec2_model.set_timeline(instance.instance_id, Timeline(pending_seconds=1, in_progress_seconds=599))
    result = Resource(sb).create({"InstanceId": instance.instance_id})
    assert body(result)["Status"] == "SUCCESS"
    describes = [c.at for c in aws_calls.calls() if c.operation == "DescribeReplaceRootVolumeTasks"]
    for start in range(int(min(describes)), int(max(describes)), 10):
        assert len([t for t in describes if start <= t < start + 60]) <= 15


def test_throttled_describes_are_retried_never_fatal(sb, instance):
    ec2_model.set_timeline(instance.instance_id, Timeline(pending_seconds=1, in_progress_seconds=100))
    aws_calls.inject_fault("ec2", "DescribeReplaceRootVolumeTasks", "throttle", times=12)
    result = Resource(sb).create({"InstanceId": instance.instance_id})
    assert body(result)["Status"] == "SUCCESS"
    assert any(c.faulted for c in aws_calls.calls() if c.operation == "DescribeReplaceRootVolumeTasks")


def test_a_redelivered_create_does_not_start_a_second_replacement(sb, instance):
    resource = Resource(sb)
    event = resource.stack.create("RootVolume", {"InstanceId": instance.instance_id})
    first = resource.runtime.run(event)
    second = resource.runtime.run(event)
    assert body(first)["PhysicalResourceId"] == second.response.body["PhysicalResourceId"]
    tasks = [t for t in ec2_model.tasks() if t.instance_id == instance.instance_id]
    assert len(tasks) == 1


@pytest.mark.parametrize(
    ("outcome", "words"),
    [
        ("failed", ["ended in failed", "original root volume is still attached"]),
        ("failed-detached", ["failed-detached", "NO root volume attached", "Attach a root volume"]),
    ],
)
def test_a_failed_task_reports_task_instance_and_state(sb, instance, outcome, words):
    ec2_model.set_timeline(instance.instance_id, Timeline(in_progress_seconds=70, outcome=outcome))
    result = Resource(sb).create({"InstanceId": instance.instance_id})
    answer = body(result)
    task_id = next(t.id for t in ec2_model.tasks() if t.instance_id == instance.instance_id)
    assert answer["Status"] == "FAILED"
    assert answer["PhysicalResourceId"] == task_id
    assert task_id in answer["Reason"] and instance.instance_id in answer["Reason"]
    for word in words:
        assert word in answer["Reason"]
    assert answer["Data"] == {}
    assert result.leftover_rules == [] and result.leftover_permissions == []


def test_invalid_input_fails_fast_naming_the_property_and_changes_nothing(sb, instance):
    aws_calls.reset()  # forget the world's set-up calls
    result = Resource(sb).create({"InstanceId": instance.instance_id, "DeleteReplacedRootVolume": "yes"})
    answer = body(result)
    assert answer["Status"] == "FAILED"
    assert "DeleteReplacedRootVolume must be true or false" in answer["Reason"]
    assert not answer["PhysicalResourceId"].startswith("replacevol-") and answer["PhysicalResourceId"]
    assert aws_calls.ec2_mutations() == []
    assert result.virtual_seconds < 5 and result.leftover_rules == []


def test_ec2_refusal_reaches_the_stack_with_code_and_message(sb, instance):
    other = world.make_instance(sb.ec2)
    foreign = world.snapshot_root(sb.ec2, other.instance_id)
    answer = body(Resource(sb).create({"InstanceId": instance.instance_id, "SnapshotId": foreign}))
    assert answer["Status"] == "FAILED"
    assert "EC2 CreateReplaceRootVolumeTask failed: InvalidParameterValue" in answer["Reason"]
    assert (
        replacements_started() != [] and [t for t in ec2_model.tasks() if t.instance_id == instance.instance_id] == []
    )


def test_service_timeout_fails_before_cloudformation_gives_up(sb, instance):
    ec2_model.set_timeline(instance.instance_id, Timeline(in_progress_seconds=900))
    result = Resource(sb).create({"InstanceId": instance.instance_id, "ServiceTimeout": 300})
    answer = body(result)
    assert answer["Status"] == "FAILED"
    assert "did not finish within ServiceTimeout (300 s)" in answer["Reason"]
    accepted = next(r for r in result.responses if r.accepted)
    assert accepted.received_at - result.started_at < 300
    assert result.leftover_rules == []


def test_default_service_timeout_is_an_hour(sb, instance):
    ec2_model.set_timeline(instance.instance_id, Timeline(in_progress_seconds=5000))
    result = Resource(sb).create({"InstanceId": instance.instance_id})
    accepted = next(r for r in result.responses if r.accepted)
    assert "ServiceTimeout (3600 s)" in accepted.body["Reason"]
    assert 3500 < accepted.received_at - result.started_at < 3600
