"""A task's life in virtual time, and what it does to the instance and its volumes."""

from __future__ import annotations

import time

import pytest
from botocore.exceptions import ClientError
from tests.sandbox.ec2_fixtures import error_of

from sandbox import ec2_model
from sandbox.ec2_model import Timeline
from sandbox.world import make_image, make_instance, make_volume, root_volume_of, snapshot_root


def create(ec2, **params):
    return ec2.create_replace_root_volume_task(**params)["ReplaceRootVolumeTask"]


def state(ec2, task_id):
    return ec2.describe_replace_root_volume_tasks(ReplaceRootVolumeTaskIds=[task_id])["ReplaceRootVolumeTasks"][0][
        "TaskState"
    ]


def volume(ec2, volume_id):
    return ec2.describe_volumes(VolumeIds=[volume_id])["Volumes"][0]


def states_over(ec2, clock, task_id, times):
    start, seen = time.time(), []
    for at in times:
        clock.advance_to(start + at)
        seen.append(state(ec2, task_id))
    return seen


def test_success_follows_the_default_timeline_and_swaps_the_root(ec2, ec2_clock):
    instance = make_instance(ec2)
    task_id = create(ec2, InstanceId=instance.instance_id)["ReplaceRootVolumeTaskId"]

    seen = states_over(ec2, ec2_clock, task_id, [1.9, 2, 19.9])
    assert seen == ["pending", "in-progress", "in-progress"]
    assert root_volume_of(ec2, instance.instance_id) == instance.root_volume_id

    ec2_clock.advance(0.1)  # the very first request after the end already shows the effect
    new_root = root_volume_of(ec2, instance.instance_id)
    assert new_root not in (None, instance.root_volume_id)
    assert state(ec2, task_id) == "succeeded"
    assert volume(ec2, new_root)["SnapshotId"] == instance.launch_snapshot_id
    assert volume(ec2, new_root)["Size"] == volume(ec2, instance.root_volume_id)["Size"]
    old = volume(ec2, instance.root_volume_id)
    assert (old["State"], old["Attachments"]) == ("available", [])


def test_delete_replaced_root_volume_deletes_the_old_one(ec2, ec2_clock):
    instance = make_instance(ec2)
    create(ec2, InstanceId=instance.instance_id, DeleteReplacedRootVolume=True)
    ec2_clock.advance(20)
    with pytest.raises(ClientError) as excinfo:
        ec2.describe_volumes(VolumeIds=[instance.root_volume_id])
    assert error_of(excinfo)[0] == "InvalidVolume.NotFound"


def test_from_a_snapshot_the_new_root_is_restored_from_it(ec2, ec2_clock):
    instance = make_instance(ec2)
    snapshot = snapshot_root(ec2, instance.instance_id)
    create(ec2, InstanceId=instance.instance_id, SnapshotId=snapshot)
    ec2_clock.advance(20)
    assert volume(ec2, root_volume_of(ec2, instance.instance_id))["SnapshotId"] == snapshot


def test_from_an_image_the_instance_takes_its_id_and_root_size(ec2, ec2_clock):
    instance = make_instance(ec2, root_size=8)
    image = make_image(ec2, root_size=20)
    image_snapshot = ec2.describe_images(ImageIds=[image])["Images"][0]["BlockDeviceMappings"][0]["Ebs"]["SnapshotId"]
    create(ec2, InstanceId=instance.instance_id, ImageId=image)
    ec2_clock.advance(20)

    described = ec2.describe_instances(InstanceIds=[instance.instance_id])["Reservations"][0]["Instances"][0]
    new_root = volume(ec2, root_volume_of(ec2, instance.instance_id))
    assert described["ImageId"] == image
    assert (new_root["SnapshotId"], new_root["Size"]) == (image_snapshot, 20)


def test_from_a_volume_that_volume_becomes_the_root(ec2, ec2_clock):
    instance = make_instance(ec2)
    spare = make_volume(ec2, from_snapshot=snapshot_root(ec2, instance.instance_id))
    create(ec2, InstanceId=instance.instance_id, VolumeId=spare)
    ec2_clock.advance(20)
    assert root_volume_of(ec2, instance.instance_id) == spare
    assert volume(ec2, spare)["Attachments"][0]["InstanceId"] == instance.instance_id


def test_failed_leaves_the_original_root_attached(ec2, ec2_clock):
    instance = make_instance(ec2)
    ec2_model.set_timeline(instance.instance_id, Timeline(2, 10, 5, outcome="failed"))
    task_id = create(ec2, InstanceId=instance.instance_id)["ReplaceRootVolumeTaskId"]

    assert states_over(ec2, ec2_clock, task_id, [1, 3, 13, 17]) == ["pending", "in-progress", "failing", "failed"]
    task = ec2.describe_replace_root_volume_tasks()["ReplaceRootVolumeTasks"][0]
    assert task["CompleteTime"] == "2026-01-05T09:00:17Z"
    assert root_volume_of(ec2, instance.instance_id) == instance.root_volume_id


def test_failed_detached_leaves_no_root_volume(ec2, ec2_clock):
    instance = make_instance(ec2)
    ec2_model.set_timeline(instance.instance_id, Timeline(2, 10, 5, outcome="failed-detached"))
    task_id = create(ec2, InstanceId=instance.instance_id)["ReplaceRootVolumeTaskId"]

    seen = states_over(ec2, ec2_clock, task_id, [1, 3, 13, 17])
    assert seen == ["pending", "in-progress", "failing-detached", "failed-detached"]
    assert root_volume_of(ec2, instance.instance_id) is None
    assert volume(ec2, instance.root_volume_id)["State"] == "available"


def test_an_instance_left_without_root_can_be_restored_again(ec2, ec2_clock):
    instance = make_instance(ec2)
    ec2_model.set_timeline(instance.instance_id, Timeline(outcome="failed-detached"))
    create(ec2, InstanceId=instance.instance_id)
    ec2_clock.advance(30)
    ec2_model.set_timeline(instance.instance_id, Timeline())
    create(ec2, InstanceId=instance.instance_id)
    ec2_clock.advance(30)
    assert root_volume_of(ec2, instance.instance_id) not in (None, instance.root_volume_id)


@pytest.mark.parametrize(("stuck_in", "after_pending"), [("in-progress", "in-progress"), ("restoring", "restoring")])
def test_a_stuck_task_never_ends(ec2, ec2_clock, stuck_in, after_pending):
    instance = make_instance(ec2)
    ec2_model.set_timeline(instance.instance_id, Timeline(stuck_in=stuck_in))
    task_id = create(ec2, InstanceId=instance.instance_id)["ReplaceRootVolumeTaskId"]
    assert states_over(ec2, ec2_clock, task_id, [1, 3, 86_400]) == ["pending", after_pending, after_pending]
    assert "CompleteTime" not in ec2.describe_replace_root_volume_tasks()["ReplaceRootVolumeTasks"][0]
    assert root_volume_of(ec2, instance.instance_id) == instance.root_volume_id
    with pytest.raises(ClientError) as excinfo:
        create(ec2, InstanceId=instance.instance_id)
    assert error_of(excinfo)[0] == "IncorrectState"


def test_stuck_in_failing_detached_on_the_way_to_failed_detached(ec2, ec2_clock):
    instance = make_instance(ec2)
    ec2_model.set_timeline(instance.instance_id, Timeline(outcome="failed-detached", stuck_in="failing-detached"))
    task_id = create(ec2, InstanceId=instance.instance_id)["ReplaceRootVolumeTaskId"]
    assert states_over(ec2, ec2_clock, task_id, [1, 10, 3600]) == ["pending", "in-progress", "failing-detached"]


def test_default_timeline_applies_where_none_is_set(ec2, ec2_clock):
    ec2_model.set_default_timeline(Timeline(pending_seconds=0, in_progress_seconds=60))
    task_id = create(ec2, InstanceId=make_instance(ec2).instance_id)["ReplaceRootVolumeTaskId"]
    assert states_over(ec2, ec2_clock, task_id, [0, 59, 60]) == ["in-progress", "in-progress", "succeeded"]


def test_terminating_the_instance_fails_the_running_task(ec2, ec2_clock):
    instance = make_instance(ec2)
    task_id = create(ec2, InstanceId=instance.instance_id)["ReplaceRootVolumeTaskId"]
    ec2_clock.advance(5)
    ec2.terminate_instances(InstanceIds=[instance.instance_id])
    assert state(ec2, task_id) == "failed"
    ec2_clock.advance(60)
    assert state(ec2, task_id) == "failed"


def test_settle_and_tasks_expose_the_model_without_a_request(ec2, ec2_clock):
    instance = make_instance(ec2)
    create(ec2, InstanceId=instance.instance_id)
    ec2_clock.advance(20)
    ec2_model.settle()
    (task,) = ec2_model.tasks()
    assert (task.instance_id, task.state(), task.effects_applied) == (instance.instance_id, "succeeded", True)


def test_an_instance_without_a_launch_snapshot_gets_one_recorded(ec2, ec2_clock):
    # moto lets an instance launch from an AMI it does not know: its root has no snapshot.
    launched = ec2.run_instances(ImageId="ami-0123456789abcdef0", MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
    old_root = root_volume_of(ec2, launched)
    create(ec2, InstanceId=launched)
    ec2_clock.advance(20)
    new_root = volume(ec2, root_volume_of(ec2, launched))
    assert new_root["VolumeId"] != old_root
    assert ec2.describe_snapshots(SnapshotIds=[new_root["SnapshotId"]])["Snapshots"][0]["VolumeId"] == old_root


def test_ten_virtual_minutes_take_well_under_a_second(ec2):
    instance = make_instance(ec2)
    ec2_model.set_timeline(instance.instance_id, Timeline(pending_seconds=30, in_progress_seconds=570))
    task_id = create(ec2, InstanceId=instance.instance_id)["ReplaceRootVolumeTaskId"]
    wall = time.perf_counter()
    polls = 0
    while state(ec2, task_id) != "succeeded":
        time.sleep(15)  # virtual
        polls += 1
    assert polls == 40
    assert time.perf_counter() - wall < 1.0
