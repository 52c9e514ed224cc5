"""Requests exactly as CloudFormation sends them to a custom resource."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest

from sandbox.clock import VirtualClock
from sandbox.cloudformation import CloudFormationStack, stringify
from sandbox.response_endpoint import ResponseEndpoint

TOKEN = "arn:aws:lambda:us-east-1:123456789012:function:RootVolumeReplacementFunction"


@pytest.fixture
def stack() -> Iterator[CloudFormationStack]:
    with VirtualClock(), ResponseEndpoint() as endpoint:
        yield CloudFormationStack("my-stack", endpoint, TOKEN)


@pytest.mark.parametrize(
    ("value", "delivered"),
    [
        (True, "true"),
        (False, "false"),
        (300, "300"),
        (0, "0"),
        (1.5, "1.5"),
        ("i-0abc", "i-0abc"),
        ([1, True, "x"], ["1", "true", "x"]),
        (
            {"Rate": 300, "Nested": {"On": False, "List": [2]}},
            {"Rate": "300", "Nested": {"On": "false", "List": ["2"]}},
        ),
        ([], []),
    ],
)
def test_stringify_turns_every_scalar_into_a_string_and_keeps_shapes(value: object, delivered: object) -> None:
    assert stringify(value) == delivered


def test_stringify_refuses_null() -> None:
    with pytest.raises(ValueError, match="null"):
        stringify({"A": None})


def test_create_carries_everything_cloudformation_sends(stack: CloudFormationStack) -> None:
    event = stack.create(
        "RootVolume", {"InstanceId": "i-1", "DeleteReplacedRootVolume": True, "ServiceTimeout": 900, "Tags": [1]}
    )
    assert event["RequestType"] == "Create"
    assert event["ServiceToken"] == TOKEN
    assert event["LogicalResourceId"] == "RootVolume"
    assert event["ResourceType"] == "Custom::RootVolumeReplacement"
    assert event["ResourceProperties"] == {
        "ServiceToken": TOKEN,
        "InstanceId": "i-1",
        "DeleteReplacedRootVolume": "true",
        "ServiceTimeout": "900",
        "Tags": ["1"],
    }
    assert re.fullmatch(r"arn:aws:cloudformation:us-east-1:123456789012:stack/my-stack/[0-9a-f-]{36}", event["StackId"])
    assert re.fullmatch(r"[0-9a-f-]{36}", event["RequestId"])
    assert "PhysicalResourceId" not in event
    assert "OldResourceProperties" not in event
    assert event["ResponseURL"] in stack.endpoint.secrets()
    json.dumps(event)  # what Lambda receives is JSON


def test_every_request_has_its_own_request_id_and_response_url(stack: CloudFormationStack) -> None:
    events = [stack.create("A", {}), stack.create("A", {}), stack.delete("A", "p", {})]
    assert len({e["RequestId"] for e in events}) == 3
    assert len({e["ResponseURL"] for e in events}) == 3
    assert len({e["StackId"] for e in events}) == 1


def test_update_sends_old_properties_and_the_physical_id(stack: CloudFormationStack) -> None:
    stack.create("RootVolume", {"InstanceId": "i-1"}, resource_type="Custom::Other")
    event = stack.update("RootVolume", "replacevol-1", {"InstanceId": "i-1", "Rate": 150}, {"InstanceId": "i-1"})
    assert event["RequestType"] == "Update"
    assert event["PhysicalResourceId"] == "replacevol-1"
    assert event["ResourceProperties"] == {"ServiceToken": TOKEN, "InstanceId": "i-1", "Rate": "150"}
    assert event["OldResourceProperties"] == {"ServiceToken": TOKEN, "InstanceId": "i-1"}
    assert event["ResourceType"] == "Custom::Other"  # the type the resource was created with


def test_delete_sends_the_physical_id_and_the_last_properties(stack: CloudFormationStack) -> None:
    event = stack.delete("RootVolume", "replacevol-1", {"InstanceId": "i-1", "Keep": False})
    assert event["RequestType"] == "Delete"
    assert event["PhysicalResourceId"] == "replacevol-1"
    assert event["ResourceProperties"]["Keep"] == "false"
    assert "OldResourceProperties" not in event


@pytest.mark.parametrize("logical_id", ["", "Has-Dash", "x" * 256])
def test_logical_ids_cloudformation_would_reject_are_refused(stack: CloudFormationStack, logical_id: str) -> None:
    with pytest.raises(ValueError, match="logical id"):
        stack.create(logical_id, {})


def test_a_physical_id_must_be_non_empty_and_at_most_1_kb(stack: CloudFormationStack) -> None:
    for bad in ("", "p" * 1025):
        with pytest.raises(ValueError, match="PhysicalResourceId"):
            stack.delete("R", bad, {})
