"""CreateReplaceRootVolumeTask and DescribeReplaceRootVolumeTasks through boto3: inputs, errors, outputs."""

from __future__ import annotations

import re

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from tests.sandbox.ec2_fixtures import error_of

from sandbox import ec2_model
from sandbox.ec2_model import Timeline
from sandbox.world import make_image, make_instance, make_volume, snapshot_root

ISO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
DOTTED = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d")
TASK_ID = re.compile(r"replacevol-[0-9a-f]{17}")


def create(ec2, **params):
    return ec2.create_replace_root_volume_task(**params)["ReplaceRootVolumeTask"]


def describe(ec2, **params):
    return ec2.describe_replace_root_volume_tasks(**params)["ReplaceRootVolumeTasks"]


def refused(ec2, **params):
    with pytest.raises(ClientError) as excinfo:
        ec2.create_replace_root_volume_task(**params)
    return error_of(excinfo)


# -- output shapes ---------------------------------------------------------------------------------------------
def test_every_member_of_both_output_shapes_parses(ec2, ec2_clock):
    model = ec2.meta.service_model
    task_members = set(model.shape_for("ReplaceRootVolumeTask").members)
    describe_members = set(model.operation_model("DescribeReplaceRootVolumeTasks").output_shape.members)
    create_members = set(model.operation_model("CreateReplaceRootVolumeTask").output_shape.members)

    first = make_instance(ec2)
    second = make_instance(ec2)
    tags = [{"ResourceType": "replace-root-volume-task", "Tags": [{"Key": "stack", "Value": "web"}]}]
    created = ec2.create_replace_root_volume_task(
        InstanceId=first.instance_id, ImageId=make_image(ec2, root_size=8), TagSpecifications=tags
    )
    create(ec2, InstanceId=second.instance_id, SnapshotId=snapshot_root(ec2, second.instance_id))
    ec2_clock.advance(60)
    page = ec2.describe_replace_root_volume_tasks(MaxResults=1)
    tasks = describe(ec2)

    assert set(created) - {"ResponseMetadata"} == create_members
    assert set(page) - {"ResponseMetadata"} == describe_members
    assert set().union(*(set(task) for task in tasks)) == task_members
    by_image, by_snapshot = tasks
    assert TASK_ID.fullmatch(by_image["ReplaceRootVolumeTaskId"])
    assert by_image["InstanceId"] == first.instance_id
    assert by_image["TaskState"] == "succeeded"
    assert by_image["Tags"] == [{"Key": "stack", "Value": "web"}]
    assert by_image["DeleteReplacedRootVolume"] is False
    assert by_image["ImageId"].startswith("ami-")
    assert by_snapshot["SnapshotId"].startswith("snap-")
    assert all(isinstance(task[key], str) for task in tasks for key in ("StartTime", "CompleteTime"))


def test_start_and_complete_times_come_in_both_formats_aws_uses(ec2, ec2_clock):
    ids = [make_instance(ec2).instance_id for _ in range(2)]
    for instance_id in ids:
        create(ec2, InstanceId=instance_id)
    ec2_clock.advance(30)
    first, second = describe(ec2)

    assert first["StartTime"] == "2026-01-05T09:00:00Z"
    assert ISO.fullmatch(first["CompleteTime"])
    assert first["CompleteTime"] == "2026-01-05T09:00:20Z"
    assert DOTTED.fullmatch(second["StartTime"])
    assert second["CompleteTime"] == "2026-01-05 09:00:20.0"


def test_complete_time_is_absent_until_the_task_is_final(ec2, ec2_clock):
    task = create(ec2, InstanceId=make_instance(ec2).instance_id)
    assert task["TaskState"] == "pending"
    assert "CompleteTime" not in task
    ec2_clock.advance(5)
    assert "CompleteTime" not in describe(ec2)[0]


# -- inputs ------------------------------------------------------------------------------------------------
def test_instance_id_is_required_by_ec2_as_well_as_by_botocore(ec2):
    unvalidated = boto3.client("ec2", region_name="us-east-1", config=Config(parameter_validation=False))
    assert refused(unvalidated, InstanceId="") == ("MissingParameter", 400)


@pytest.mark.parametrize("instance_id", ["i-123", "instance-0123456789abcdef0", "i-0123456789ABCDEF0", "i-0123456789"])
def test_malformed_instance_id(ec2, instance_id):
    assert refused(ec2, InstanceId=instance_id) == ("InvalidInstanceID.Malformed", 400)


def test_unknown_instance(ec2):
    with pytest.raises(ClientError) as excinfo:
        ec2.create_replace_root_volume_task(InstanceId="i-0123456789abcdef0")
    assert error_of(excinfo) == ("InvalidInstanceID.NotFound", 400)
    assert excinfo.value.response["Error"]["Message"] == "The instance ID 'i-0123456789abcdef0' does not exist"


@pytest.mark.parametrize("state", ["stopped", "terminated"])
def test_instance_must_be_running(ec2, state):
    instance = make_instance(ec2, state=state)
    assert refused(ec2, InstanceId=instance.instance_id) == ("IncorrectInstanceState", 400)


def test_instance_store_root_is_unsupported(ec2):
    ec2_model.install()
    image = ec2.describe_images(Filters=[{"Name": "root-device-type", "Values": ["instance-store"]}])["Images"][0]
    instance = ec2.run_instances(ImageId=image["ImageId"], MinCount=1, MaxCount=1)["Instances"][0]
    assert refused(ec2, InstanceId=instance["InstanceId"]) == ("UnsupportedOperation", 400)


def test_at_most_one_source(ec2):
    instance = make_instance(ec2)
    snapshot = snapshot_root(ec2, instance.instance_id)
    volume = make_volume(ec2)
    both = {"InstanceId": instance.instance_id, "SnapshotId": snapshot, "ImageId": instance.image_id}
    assert refused(ec2, **both) == ("InvalidParameterCombination", 400)
    assert refused(ec2, InstanceId=instance.instance_id, ImageId=instance.image_id, VolumeId=volume) == (
        "InvalidParameterCombination",
        400,
    )


@pytest.mark.parametrize("rate", [99, 301, 0])
def test_volume_initialization_rate_out_of_range(ec2, rate):
    instance = make_instance(ec2)
    assert refused(ec2, InstanceId=instance.instance_id, VolumeInitializationRate=rate) == (
        "InvalidParameterValue",
        400,
    )


@pytest.mark.parametrize("rate", [100, 300])
def test_volume_initialization_rate_bounds_are_accepted(ec2, rate):
    instance = make_instance(ec2)
    assert create(ec2, InstanceId=instance.instance_id, VolumeInitializationRate=rate)["TaskState"] == "pending"


def test_tags_only_for_the_task_resource_type(ec2):
    instance = make_instance(ec2)
    tags = [{"ResourceType": "volume", "Tags": [{"Key": "a", "Value": "b"}]}]
    assert refused(ec2, InstanceId=instance.instance_id, TagSpecifications=tags) == ("InvalidParameterValue", 400)
    assert describe(ec2) == []


def test_dry_run_answers_412_and_does_nothing(ec2):
    instance = make_instance(ec2)
    assert refused(ec2, InstanceId=instance.instance_id, DryRun=True) == ("DryRunOperation", 412)
    with pytest.raises(ClientError) as excinfo:
        ec2.describe_replace_root_volume_tasks(DryRun=True)
    assert error_of(excinfo) == ("DryRunOperation", 412)
    assert describe(ec2) == []
    assert ec2_model.tasks() == []


def test_a_replacement_already_running_blocks_another(ec2, ec2_clock):
    instance = make_instance(ec2)
    create(ec2, InstanceId=instance.instance_id)
    for seconds in (1, 10):  # pending, then in-progress
        ec2_clock.advance(seconds)
        assert refused(ec2, InstanceId=instance.instance_id) == ("IncorrectState", 400)
    ec2_clock.advance(20)
    assert create(ec2, InstanceId=instance.instance_id)["TaskState"] == "pending"


def test_a_failing_replacement_blocks_another(ec2, ec2_clock):
    instance = make_instance(ec2)
    ec2_model.set_timeline(instance.instance_id, Timeline(outcome="failed"))
    create(ec2, InstanceId=instance.instance_id)
    ec2_clock.advance(21)
    assert describe(ec2)[0]["TaskState"] == "failing"
    assert refused(ec2, InstanceId=instance.instance_id) == ("IncorrectState", 400)


# -- idempotency -------------------------------------------------------------------------------------------
def test_same_token_and_parameters_return_the_same_task(ec2, ec2_clock):
    instance = make_instance(ec2)
    first = create(ec2, InstanceId=instance.instance_id, ClientToken="stack-request-1")
    ec2_clock.advance(30)
    again = create(ec2, InstanceId=instance.instance_id, ClientToken="stack-request-1")
    assert again["ReplaceRootVolumeTaskId"] == first["ReplaceRootVolumeTaskId"]
    assert again["TaskState"] == "succeeded"
    assert len(describe(ec2)) == 1


def test_same_token_with_other_parameters_is_a_mismatch(ec2):
    instance = make_instance(ec2)
    create(ec2, InstanceId=instance.instance_id, ClientToken="stack-request-1")
    changed = {"InstanceId": instance.instance_id, "ClientToken": "stack-request-1", "DeleteReplacedRootVolume": True}
    assert refused(ec2, **changed) == ("IdempotentParameterMismatch", 400)


def test_without_a_token_botocore_makes_each_call_a_new_request(ec2, ec2_clock):
    instance = make_instance(ec2)
    create(ec2, InstanceId=instance.instance_id)
    ec2_clock.advance(30)
    create(ec2, InstanceId=instance.instance_id)
    assert len(describe(ec2)) == 2


def test_token_longer_than_64_characters(ec2):
    instance = make_instance(ec2)
    assert refused(ec2, InstanceId=instance.instance_id, ClientToken="x" * 65) == ("InvalidParameterValue", 400)


# -- sources -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("param", "value", "code"),
    [
        ("SnapshotId", "snap-xyz", "InvalidSnapshotID.Malformed"),
        ("SnapshotId", "snap-0123456789abcdef0", "InvalidSnapshot.NotFound"),
        ("ImageId", "image-1", "InvalidAMIID.Malformed"),
        ("ImageId", "ami-0123456789abcdef0", "InvalidAMIID.NotFound"),
        ("VolumeId", "volume-1", "InvalidVolumeID.Malformed"),
        ("VolumeId", "vol-0123456789abcdef0", "InvalidVolume.NotFound"),
    ],
)
def test_unknown_or_malformed_source(ec2, param, value, code):
    instance = make_instance(ec2)
    assert refused(ec2, InstanceId=instance.instance_id, **{param: value}) == (code, 400)


def test_snapshot_must_come_from_the_instance_root_lineage(ec2, ec2_clock):
    instance = make_instance(ec2)
    other = make_instance(ec2)
    data_volume_snapshot = ec2.create_snapshot(VolumeId=make_volume(ec2))["SnapshotId"]
    for foreign in (snapshot_root(ec2, other.instance_id), data_volume_snapshot, other.launch_snapshot_id):
        assert refused(ec2, InstanceId=instance.instance_id, SnapshotId=foreign) == ("InvalidParameterValue", 400)

    # The launch snapshot and a snapshot of the current root are in the lineage ...
    before = snapshot_root(ec2, instance.instance_id)
    create(ec2, InstanceId=instance.instance_id, SnapshotId=instance.launch_snapshot_id)
    ec2_clock.advance(30)
    # ... and so is a snapshot of a volume that was the root before the replacement.
    create(ec2, InstanceId=instance.instance_id, SnapshotId=before)
    ec2_clock.advance(30)
    assert [task["TaskState"] for task in describe(ec2)] == ["succeeded", "succeeded"]


def test_image_must_match_architecture(ec2):
    instance = make_instance(ec2, architecture="x86_64")
    arm = make_image(ec2, architecture="arm64")
    assert refused(ec2, InstanceId=instance.instance_id, ImageId=arm) == ("InvalidParameterValue", 400)


def test_image_root_must_not_be_smaller_than_the_current_root(ec2):
    instance = make_instance(ec2, root_size=16)
    small = make_image(ec2, root_size=8)
    assert refused(ec2, InstanceId=instance.instance_id, ImageId=small) == ("InvalidParameterValue", 400)


def test_deregistered_image_is_unavailable(ec2):
    instance = make_instance(ec2)
    image = make_image(ec2)
    ec2.deregister_image(ImageId=image)
    assert refused(ec2, InstanceId=instance.instance_id, ImageId=image) == ("InvalidAMIID.Unavailable", 400)


def test_volume_must_be_available_and_in_the_same_zone(ec2):
    instance = make_instance(ec2, az="us-east-1a")
    other = make_instance(ec2, az="us-east-1a")
    elsewhere = make_volume(ec2, az="us-east-1b")
    assert refused(ec2, InstanceId=instance.instance_id, VolumeId=other.root_volume_id) == ("VolumeInUse", 400)
    assert refused(ec2, InstanceId=instance.instance_id, VolumeId=elsewhere) == ("InvalidParameterValue", 400)


# -- describe ----------------------------------------------------------------------------------------------
def test_describe_by_id_and_by_instance_filter(ec2):
    first, second = make_instance(ec2), make_instance(ec2)
    a = create(ec2, InstanceId=first.instance_id)["ReplaceRootVolumeTaskId"]
    b = create(ec2, InstanceId=second.instance_id)["ReplaceRootVolumeTaskId"]

    assert [t["ReplaceRootVolumeTaskId"] for t in describe(ec2, ReplaceRootVolumeTaskIds=[b])] == [b]
    by_instance = describe(ec2, Filters=[{"Name": "instance-id", "Values": [first.instance_id]}])
    assert [t["ReplaceRootVolumeTaskId"] for t in by_instance] == [a]
    assert len(describe(ec2, Filters=[{"Name": "instance-id", "Values": ["i-0123456789abcdef0"]}])) == 0


def test_describe_unknown_task_id(ec2):
    with pytest.raises(ClientError) as excinfo:
        ec2.describe_replace_root_volume_tasks(ReplaceRootVolumeTaskIds=["replacevol-0123456789abcdef0"])
    assert error_of(excinfo) == ("InvalidReplaceRootVolumeTaskId.NotFound", 400)


@pytest.mark.parametrize("max_results", [0, 51])
def test_describe_max_results_out_of_range(ec2, max_results):
    unvalidated = boto3.client("ec2", region_name="us-east-1", config=Config(parameter_validation=False))
    with pytest.raises(ClientError) as excinfo:
        unvalidated.describe_replace_root_volume_tasks(MaxResults=max_results)
    assert error_of(excinfo) == ("InvalidParameterValue", 400)


def test_describe_rejects_unknown_filters_and_tokens(ec2):
    for params in ({"Filters": [{"Name": "task-state", "Values": ["pending"]}]}, {"NextToken": "bogus"}):
        with pytest.raises(ClientError) as excinfo:
            ec2.describe_replace_root_volume_tasks(**params)
        assert error_of(excinfo)[0] in {"InvalidParameterValue", "InvalidPaginationToken"}


def test_next_token_pages_through_all_tasks(ec2):
    ids = [create(ec2, InstanceId=make_instance(ec2).instance_id)["ReplaceRootVolumeTaskId"] for _ in range(5)]
    seen, token, pages = [], None, 0
    while True:
        page = ec2.describe_replace_root_volume_tasks(MaxResults=2, **({"NextToken": token} if token else {}))
        seen += [t["ReplaceRootVolumeTaskId"] for t in page["ReplaceRootVolumeTasks"]]
        pages += 1
        token = page.get("NextToken")
        if not token:
            break
    assert (seen, pages) == (ids, 3)


def test_the_boto3_paginator_works(ec2):
    ids = [create(ec2, InstanceId=make_instance(ec2).instance_id)["ReplaceRootVolumeTaskId"] for _ in range(3)]
    pages = list(ec2.get_paginator("describe_replace_root_volume_tasks").paginate(PaginationConfig={"PageSize": 1}))
    assert [t["ReplaceRootVolumeTaskId"] for p in pages for t in p["ReplaceRootVolumeTasks"]] == ids
    assert len(pages) == 3


# -- tags ----------------------------------------------------------------------------------------------------
def test_create_delete_and_describe_tags_on_a_task(ec2):
    task_id = create(ec2, InstanceId=make_instance(ec2).instance_id)["ReplaceRootVolumeTaskId"]
    ec2.create_tags(Resources=[task_id], Tags=[{"Key": "owner", "Value": "team-a"}, {"Key": "tmp", "Value": "1"}])
    ec2.delete_tags(Resources=[task_id], Tags=[{"Key": "tmp"}])

    assert describe(ec2, ReplaceRootVolumeTaskIds=[task_id])[0]["Tags"] == [{"Key": "owner", "Value": "team-a"}]
    tags = ec2.describe_tags(Filters=[{"Name": "resource-type", "Values": ["replace-root-volume-task"]}])["Tags"]
    assert tags == [
        {"Key": "owner", "ResourceId": task_id, "ResourceType": "replace-root-volume-task", "Value": "team-a"}
    ]


def test_tagging_an_unknown_task(ec2):
    with pytest.raises(ClientError) as excinfo:
        ec2.create_tags(Resources=["replacevol-0123456789abcdef0"], Tags=[{"Key": "a", "Value": "b"}])
    assert error_of(excinfo) == ("InvalidReplaceRootVolumeTaskId.NotFound", 400)
