"""Every malformed or contradictory template a user could write: FAILED fast, a clear Reason, nothing changed."""

from __future__ import annotations

import pytest

from sandbox import aws_calls, world

from .harness import Resource, body

SNAP, AMI, VOL = "snap-0123456789abcdef0", "ami-0123456789abcdef0", "vol-0123456789abcdef0"
LOCAL_CASES = {
    # missing or malformed ids of every kind
    "no InstanceId": ({}, "InstanceId is required"),
    "empty InstanceId": ({"InstanceId": ""}, "InstanceId must not be empty"),
    "blank InstanceId": ({"InstanceId": "   "}, "InstanceId must not be empty"),
    "malformed InstanceId": ({"InstanceId": "i-123"}, "InstanceId 'i-123' is not a valid id"),
    "InstanceId of a volume": ({"InstanceId": VOL}, "expected i- followed by 8 or 17"),
    "InstanceId as a list": ({"InstanceId": ["i-0123456789abcdef0"]}, "InstanceId must be a string, not a list"),
    "InstanceId as a map": ({"InstanceId": {"Ref": "X"}}, "InstanceId must be a string, not a map"),
    "malformed SnapshotId": ({"SnapshotId": "snapshot-1"}, "SnapshotId 'snapshot-1' is not a valid id"),
    "empty SnapshotId": ({"SnapshotId": ""}, "SnapshotId must not be empty"),
    "malformed ImageId": ({"ImageId": "ami-XYZ12345"}, "ImageId 'ami-XYZ12345' is not a valid id"),
    "malformed VolumeId": ({"VolumeId": "vol-1"}, "VolumeId 'vol-1' is not a valid id"),
    # two or three sources
    "snapshot and image": ({"SnapshotId": SNAP, "ImageId": AMI}, "got SnapshotId and ImageId"),
    "image and volume": ({"ImageId": AMI, "VolumeId": VOL}, "got ImageId and VolumeId"),
    "all three sources": ({"SnapshotId": SNAP, "ImageId": AMI, "VolumeId": VOL}, "At most one of SnapshotId"),
    # booleans and numbers in every wrong form
    "boolean yes": ({"DeleteReplacedRootVolume": "yes"}, "DeleteReplacedRootVolume must be true or false, not 'yes'"),
    "boolean 1": ({"DeleteReplacedRootVolume": "1"}, "must be true or false, not '1'"),
    "boolean empty": ({"DeleteReplacedRootVolume": ""}, "DeleteReplacedRootVolume must not be empty"),
    "boolean list": ({"DeleteReplacedRootVolume": ["true"]}, "DeleteReplacedRootVolume must be a string"),
    "rate words": ({"VolumeInitializationRate": "fast"}, "VolumeInitializationRate must be a whole number"),
    "rate decimal": ({"VolumeInitializationRate": "150.0"}, "VolumeInitializationRate must be a whole number"),
    "rate negative": ({"VolumeInitializationRate": "-200"}, "VolumeInitializationRate must be a whole number"),
    "rate too low": ({"VolumeInitializationRate": "99"}, "must be from 100 to 300 MiB/s, not 99"),
    "rate too high": ({"VolumeInitializationRate": "301"}, "must be from 100 to 300 MiB/s, not 301"),
    "timeout zero": ({"ServiceTimeout": "0"}, "ServiceTimeout must be from 1 to 3600 seconds, not 0"),
    "timeout words": ({"ServiceTimeout": "1h"}, "ServiceTimeout must be a whole number of seconds"),
    # Tags in every wrong shape
    "tags as string": ({"Tags": "team=ops"}, "Tags must be a list of {Key, Value} maps, not a str"),
    "tags as map": ({"Tags": {"team": "ops"}}, "Tags must be a list of {Key, Value} maps, not a map"),
    "tag as string": ({"Tags": ["team=ops"]}, "Tags[0] must be a map with Key and Value, not a str"),
    "tag without Key": ({"Tags": [{"Value": "ops"}]}, "Tags[0] has no Key"),
    "tag with empty Key": ({"Tags": [{"Key": "", "Value": "ops"}]}, "Tags[0].Key must be 1-127 characters, not 0"),
    "duplicate tag keys": ({"Tags": [{"Key": "a"}, {"Key": "b"}, {"Key": "a"}]}, "Tags[2].Key 'a' appears twice"),
    "too many tags": ({"Tags": [{"Key": f"k{i}", "Value": "v"} for i in range(51)]}, "at most 49 tags"),
    "tag key too long": ({"Tags": [{"Key": "k" * 128}]}, "Tags[0].Key must be 1-127 characters, not 128"),
    "tag value too long": ({"Tags": [{"Key": "k", "Value": "v" * 257}]}, "Tags[0].Value must be at most 256"),
    "aws: prefix": ({"Tags": [{"Key": "aws:cloudformation:x"}]}, "reserved prefix aws:"),
    "AWS: prefix": ({"Tags": [{"Key": "AWS:x"}]}, "reserved prefix aws:"),
    "tag value as list": ({"Tags": [{"Key": "k", "Value": ["v"]}]}, "Tags[0] Key and Value must be strings"),
    # unknown and misspelt properties
    "misspelt SnapshotID": ({"SnapshotID": SNAP}, "Unknown property 'SnapshotID'. Did you mean SnapshotId?"),
    "misspelt Instance": ({"Instance": "i-0123456789abcdef0"}, "Did you mean InstanceId?"),
    "misspelt tags": ({"tags": []}, "Unknown property 'tags'. Did you mean Tags?"),
    "unknown DeleteOldRoot": ({"DeleteOldRoot": "true"}, "Allowed properties: InstanceId, SnapshotId, ImageId"),
    "Trigger as map": ({"Trigger": {"a": "b"}}, "Trigger must be a string, not a map"),
}


@pytest.fixture
def instance(sb):
    created = world.make_instance(sb.ec2)
    aws_calls.reset()
    return created


def _properties(overrides, instance_id):
    properties = {"InstanceId": instance_id}
    properties.update(overrides)
    if overrides == {}:
        properties = {}
    return properties


@pytest.mark.parametrize("case", sorted(LOCAL_CASES), ids=str)
def test_local_checks_fail_fast_and_call_nothing_that_mutates(sb, instance, case):
    overrides, expected = LOCAL_CASES[case]
    result = Resource(sb).create(_properties(overrides, instance.instance_id))
    answer = body(result)
    assert answer["Status"] == "FAILED"
    assert expected in answer["Reason"], answer["Reason"]
    assert answer["PhysicalResourceId"].startswith("rootvolumereplacement-failed-")
    assert aws_calls.ec2_mutations() == []
    assert [c for c in aws_calls.calls() if c.service == "ec2"] == []  # not even a describe
    assert result.virtual_seconds < 5
    assert result.leftover_rules == [] and result.leftover_permissions == []


def _ec2_case(sb, instance, case):
    if case == "nonexistent instance":
        return {"InstanceId": "i-0123456789abcdef0"}, "InvalidInstanceID.NotFound"
    if case in ("stopped instance", "terminated instance"):
        state = case.split()[0]
        other = world.make_instance(sb.ec2, state=state)
        return {"InstanceId": other.instance_id}, "IncorrectInstanceState"
    if case == "snapshot of another instance":
        other = world.make_instance(sb.ec2)
        return {"InstanceId": instance.instance_id, "SnapshotId": world.snapshot_root(sb.ec2, other.instance_id)}, (
            "InvalidParameterValue"
        )
    if case == "AMI of another architecture":
        image = world.make_image(sb.ec2, architecture="arm64")
        return {"InstanceId": instance.instance_id, "ImageId": image}, "InvalidParameterValue"
    if case == "nonexistent snapshot":
        return {"InstanceId": instance.instance_id, "SnapshotId": SNAP}, "InvalidSnapshot.NotFound"
    if case == "nonexistent image":
        return {"InstanceId": instance.instance_id, "ImageId": AMI}, "InvalidAMIID.NotFound"
    if case == "attached volume":
        other = world.make_instance(sb.ec2)
        return {"InstanceId": instance.instance_id, "VolumeId": other.root_volume_id}, "VolumeInUse"
    raise AssertionError(case)


EC2_CASES = [
    "nonexistent instance",
    "stopped instance",
    "terminated instance",
    "snapshot of another instance",
    "AMI of another architecture",
    "nonexistent snapshot",
    "nonexistent image",
    "attached volume",
]


@pytest.mark.parametrize("case", EC2_CASES)
def test_ec2_refusals_reach_the_stack_with_code_and_message(sb, instance, case):
    properties, code = _ec2_case(sb, instance, case)
    aws_calls.reset()
    result = Resource(sb).create(properties)
    answer = body(result)
    assert answer["Status"] == "FAILED"
    assert f"failed: {code}" in answer["Reason"], answer["Reason"]
    assert result.virtual_seconds < 5
    assert result.leftover_rules == [] and result.leftover_permissions == []
    assert not [
        t
        for t in __import__("sandbox.ec2_model").ec2_model.tasks()
        if t.request.instance_id == properties["InstanceId"]
    ]
