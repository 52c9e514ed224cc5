"""Parsing ResourceProperties: strict recasting of CloudFormation's strings, clear errors."""

from __future__ import annotations

import pytest

from root_volume_replacement.properties import (
    InvalidProperties,
    Source,
    SourceKind,
    Tag,
    parse_properties,
    service_timeout_or_default,
)

INSTANCE = "i-0123456789abcdef0"


def test_minimal_properties_mean_launch_state_with_defaults():
    request = parse_properties({"ServiceToken": "arn:aws:lambda:us-east-1:1:function:f", "InstanceId": INSTANCE})
    assert request.instance_id == INSTANCE
    assert request.source == Source(SourceKind.LAUNCH_STATE)
    assert request.delete_replaced_root_volume is False
    assert request.volume_initialization_rate is None
    assert request.tags == ()
    assert request.trigger is None
    assert request.service_timeout == 3600


def test_every_property_is_recast_from_strings():
    request = parse_properties(
        {
            "InstanceId": "i-01234567",
            "SnapshotId": "snap-0123456789abcdef0",
            "DeleteReplacedRootVolume": "TRUE",
            "VolumeInitializationRate": "300",
            "Tags": [{"Key": "team", "Value": "ops"}, {"Key": "empty"}],
            "Trigger": "2026-12-01",
            "ServiceTimeout": "900",
        }
    )
    assert request.source == Source(SourceKind.SNAPSHOT, "snap-0123456789abcdef0")
    assert request.delete_replaced_root_volume is True
    assert request.volume_initialization_rate == 300
    assert request.tags == (Tag("team", "ops"), Tag("empty", ""))
    assert request.trigger == "2026-12-01"
    assert request.service_timeout == 900


@pytest.mark.parametrize(
    ("name", "value", "kind"),
    [("ImageId", "ami-0123456789abcdef0", SourceKind.IMAGE), ("VolumeId", "vol-01234567", SourceKind.VOLUME)],
)
def test_each_source_kind(name, value, kind):
    assert parse_properties({"InstanceId": INSTANCE, name: value}).source == Source(kind, value)


@pytest.mark.parametrize(
    ("properties", "expected"),
    [
        ({}, "InstanceId is required"),
        ({"InstanceId": ""}, "InstanceId must not be empty"),
        ({"InstanceId": "i-xyz"}, "InstanceId 'i-xyz' is not a valid id"),
        ({"InstanceId": "I-0123456789ABCDEF0"}, "is not a valid id"),
        ({"InstanceId": ["i-01234567"]}, "InstanceId must be a string, not a list"),
        ({"InstanceId": INSTANCE, "SnapshotId": "snap-1"}, "SnapshotId 'snap-1' is not a valid id"),
        ({"InstanceId": INSTANCE, "ImageId": "ami-zz"}, "ImageId 'ami-zz' is not a valid id"),
        ({"InstanceId": INSTANCE, "VolumeId": "volume-01234567"}, "VolumeId 'volume-01234567' is not a valid id"),
        (
            {"InstanceId": INSTANCE, "SnapshotId": "snap-01234567", "ImageId": "ami-01234567"},
            "At most one of SnapshotId, ImageId and VolumeId",
        ),
        ({"InstanceId": INSTANCE, "DeleteReplacedRootVolume": "yes"}, "DeleteReplacedRootVolume must be true or false"),
        ({"InstanceId": INSTANCE, "DeleteReplacedRootVolume": "1"}, "must be true or false, not '1'"),
        ({"InstanceId": INSTANCE, "VolumeInitializationRate": "99"}, "must be from 100 to 300 MiB/s, not 99"),
        ({"InstanceId": INSTANCE, "VolumeInitializationRate": "301"}, "must be from 100 to 300 MiB/s, not 301"),
        ({"InstanceId": INSTANCE, "VolumeInitializationRate": "150.5"}, "must be a whole number of MiB/s"),
        ({"InstanceId": INSTANCE, "ServiceTimeout": "0"}, "ServiceTimeout must be from 1 to 3600 seconds"),
        ({"InstanceId": INSTANCE, "ServiceTimeout": "3601"}, "ServiceTimeout must be from 1 to 3600 seconds"),
        ({"InstanceId": INSTANCE, "Tags": "team=ops"}, "Tags must be a list of {Key, Value} maps, not a str"),
        ({"InstanceId": INSTANCE, "Tags": {"Key": "a"}}, "Tags must be a list of {Key, Value} maps, not a map"),
        ({"InstanceId": INSTANCE, "Tags": [{"Value": "x"}]}, "Tags[0] has no Key"),
        ({"InstanceId": INSTANCE, "Tags": [{"Key": "a"}, {"Key": "a"}]}, "Tags[1].Key 'a' appears twice"),
        ({"InstanceId": INSTANCE, "Tags": [{"Key": "aws:x"}]}, "reserved prefix aws:"),
        ({"InstanceId": INSTANCE, "Tags": [{"Key": "k" * 128}]}, "Tags[0].Key must be 1-127 characters"),
        ({"InstanceId": INSTANCE, "Tags": [{"Key": "k", "Value": "v" * 257}]}, "at most 256 characters"),
        ({"InstanceId": INSTANCE, "Tags": [{"Key": f"k{i}"} for i in range(50)]}, "at most 49 tags"),
        ({"InstanceId": INSTANCE, "Tags": [{"Key": "k", "Colour": "x"}]}, "unknown field 'Colour'"),
        ({"InstanceId": INSTANCE, "Tags": [{"Key": "rootvolumereplacement:record"}]}, "keeps for itself"),
        (
            {"InstanceId": INSTANCE, "SnapshotID": "snap-01234567"},
            "Unknown property 'SnapshotID'. Did you mean SnapshotId?",
        ),
        ({"InstanceId": INSTANCE, "DeleteOldVolume": "true"}, "Allowed properties: InstanceId, SnapshotId"),
        ({"InstanceId": INSTANCE, "Trigger": ["a"]}, "Trigger must be a string"),
    ],
)
def test_invalid_properties_name_the_property_and_what_is_allowed(properties, expected):
    with pytest.raises(InvalidProperties) as raised:
        parse_properties(properties)
    assert expected in str(raised.value)


def test_delete_reads_service_timeout_even_from_malformed_properties():
    assert service_timeout_or_default({"InstanceId": "nonsense", "ServiceTimeout": "120"}) == 120
    assert service_timeout_or_default({"ServiceTimeout": "forever"}) == 3600
    assert service_timeout_or_default(None) == 3600
