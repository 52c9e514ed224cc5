"""Update: what starts a new replacement, what only retags, what changes nothing; rollbacks start nothing."""

from __future__ import annotations

import pytest

from sandbox import aws_calls, ec2_model, world
from sandbox.ec2_timeline import Timeline

from .harness import Resource, body, replacements_started


@pytest.fixture
def created(sb):
    instance = world.make_instance(sb.ec2)
    resource = Resource(sb)
    properties = {"InstanceId": instance.instance_id, "Tags": [{"Key": "team", "Value": "ops"}]}
    assert body(resource.create(properties))["Status"] == "SUCCESS"
    aws_calls.reset()
    return resource, instance, properties


def user_tags(sb, task_id):
    task = sb.ec2.describe_replace_root_volume_tasks(ReplaceRootVolumeTaskIds=[task_id])["ReplaceRootVolumeTasks"][0]
    return {t["Key"]: t["Value"] for t in task.get("Tags", []) if not t["Key"].startswith("rootvolumereplacement:")}


def test_a_new_source_starts_a_new_replacement_with_a_new_id(sb, created):
    resource, instance, properties = created
    old_id = resource.physical_id
    before = world.root_volume_of(sb.ec2, instance.instance_id)
    snapshot = world.snapshot_root(sb.ec2, instance.instance_id)
    answer = body(resource.update({**properties, "SnapshotId": snapshot}))
    assert answer["Status"] == "SUCCESS"
    assert answer["PhysicalResourceId"] != old_id and answer["PhysicalResourceId"].startswith("replacevol-")
    assert answer["Data"]["ReplacedRootVolumeId"] == before
    assert answer["Data"]["SnapshotId"] == snapshot
    assert len(replacements_started()) == 1


@pytest.mark.parametrize(
    "change",
    [{"DeleteReplacedRootVolume": "true"}, {"VolumeInitializationRate": "150"}, {"Trigger": "patch-2"}],
)
def test_each_replacing_setting_starts_a_new_replacement(sb, created, change):
    resource, _, properties = created
    old_id = resource.physical_id
    answer = body(resource.update({**properties, **change}))
    assert answer["Status"] == "SUCCESS" and answer["PhysicalResourceId"] != old_id
    assert len(replacements_started()) == 1


def test_another_instance_starts_a_replacement_there(sb, created):
    resource, _, properties = created
    other = world.make_instance(sb.ec2)
    aws_calls.reset()
    answer = body(resource.update({**properties, "InstanceId": other.instance_id}))
    assert answer["Data"]["InstanceId"] == other.instance_id
    assert answer["Data"]["ReplacedRootVolumeId"] == other.root_volume_id


def test_tags_only_change_retags_the_same_task_and_replaces_nothing(sb, created):
    resource, _, properties = created
    old_id = resource.physical_id
    created_data = body(resource.runtime.run(resource.stack.update("RootVolume", old_id, properties, properties)))[
        "Data"
    ]
    aws_calls.reset()
    answer = body(
        resource.update({**properties, "Tags": [{"Key": "team", "Value": "storage"}, {"Key": "t", "Value": "1"}]})
    )
    assert answer["Status"] == "SUCCESS" and answer["PhysicalResourceId"] == old_id
    assert replacements_started() == []
    assert user_tags(sb, old_id) == {"team": "storage", "t": "1"}
    # the attributes survive the Update, including both volume ids
    assert answer["Data"] == created_data
    assert answer["Data"]["NewRootVolumeId"].startswith("vol-")
    assert answer["Data"]["ReplacedRootVolumeId"].startswith("vol-")


def test_removing_all_tags_untags_the_task(sb, created):
    resource, _, properties = created
    answer = body(resource.update({"InstanceId": properties["InstanceId"]}))
    assert answer["PhysicalResourceId"] == resource.physical_id
    assert user_tags(sb, resource.physical_id) == {}
    assert {c.operation for c in aws_calls.ec2_mutations()} == {"DeleteTags"}


@pytest.mark.parametrize("change", [{}, {"ServiceTimeout": "600"}])
def test_no_relevant_change_keeps_the_id_and_mutates_nothing(sb, created, change):
    resource, _, properties = created
    old_id = resource.physical_id
    answer = body(resource.update({**properties, **change}))
    assert answer["Status"] == "SUCCESS" and answer["PhysicalResourceId"] == old_id
    assert aws_calls.ec2_mutations() == []
    assert answer["Data"]["TaskId"] == old_id


def test_invalid_update_fails_keeps_the_id_and_mutates_nothing(sb, created):
    resource, _, properties = created
    old_id = resource.physical_id
    answer = body(resource.update({**properties, "ImageId": "ami-nope"}))
    assert answer["Status"] == "FAILED" and "ImageId 'ami-nope' is not a valid id" in answer["Reason"]
    assert answer["PhysicalResourceId"] == old_id
    assert aws_calls.ec2_mutations() == []


def test_rollback_after_a_failed_update_task_starts_nothing(sb, created):
    resource, instance, properties = created
    old_id = resource.physical_id
    ec2_model.set_timeline(instance.instance_id, Timeline(in_progress_seconds=30, outcome="failed"))
    failed = body(resource.update({**properties, "Trigger": "again"}))
    assert failed["Status"] == "FAILED" and failed["PhysicalResourceId"] == old_id
    aws_calls.reset()
    # CloudFormation rolls back: the old properties again, OldResourceProperties = the failed ones
    rollback = resource.stack.update("RootVolume", old_id, properties, {**properties, "Trigger": "again"})
    answer = body(resource.runtime.run(rollback))
    assert answer["Status"] == "SUCCESS" and answer["PhysicalResourceId"] == old_id
    assert aws_calls.ec2_mutations() == []


def test_rollback_after_an_update_that_failed_validation_starts_nothing(sb, created):
    resource, _, properties = created
    old_id = resource.physical_id
    bad = {**properties, "VolumeInitializationRate": "9000"}
    failed = body(resource.update(bad))
    assert failed["Status"] == "FAILED" and failed["PhysicalResourceId"] == old_id
    rollback = resource.stack.update("RootVolume", old_id, properties, bad)
    answer = body(resource.runtime.run(rollback))
    assert answer["Status"] == "SUCCESS" and answer["PhysicalResourceId"] == old_id
    assert aws_calls.ec2_mutations() == []


def test_stack_rollback_after_this_update_succeeded_restores_the_old_source(sb, created):
    """Documented choice: a rollback restores the declared state, so the old source is replaced in again."""
    resource, instance, properties = created
    first_id = resource.physical_id
    snapshot = world.snapshot_root(sb.ec2, instance.instance_id)
    new_properties = {**properties, "SnapshotId": snapshot}
    updated = body(resource.update(new_properties))
    assert updated["Status"] == "SUCCESS"
    aws_calls.reset()
    # another resource failed later: CloudFormation sends the old properties to the new task's id
    rollback = resource.stack.update("RootVolume", updated["PhysicalResourceId"], properties, new_properties)
    answer = body(resource.runtime.run(rollback))
    assert answer["Status"] == "SUCCESS"
    assert answer["PhysicalResourceId"] not in (first_id, updated["PhysicalResourceId"])
    assert answer["Data"]["SnapshotId"] == ""  # back to the launch state, as first declared
    assert len(replacements_started()) == 1
