"""Least privilege in code, and a ResponseURL that is only ever used when it is CloudFormation's."""

from __future__ import annotations

import pytest

from sandbox import aws_calls, world

from .harness import Resource, body


@pytest.fixture
def tag_restricted(monkeypatch):
    monkeypatch.setenv("REQUIRED_INSTANCE_TAG", "rootvolume:replaceable=yes")


def test_instance_without_the_required_tag_is_refused_without_mutation(sb, tag_restricted):
    instance = world.make_instance(sb.ec2)
    aws_calls.reset()
    answer = body(Resource(sb).create({"InstanceId": instance.instance_id}))
    assert answer["Status"] == "FAILED"
    assert "does not carry the tag rootvolume:replaceable=yes" in answer["Reason"]
    assert aws_calls.ec2_mutations() == []


def test_instance_with_the_required_tag_is_replaced(sb, tag_restricted):
    instance = world.make_instance(sb.ec2)
    sb.ec2.create_tags(Resources=[instance.instance_id], Tags=[{"Key": "rootvolume:replaceable", "Value": "yes"}])
    assert body(Resource(sb).create({"InstanceId": instance.instance_id}))["Status"] == "SUCCESS"


@pytest.mark.parametrize(
    "rewrite",
    [
        lambda url: url.replace("https://", "http://", 1),
        lambda url: url.replace(".s3.amazonaws.com", ".s3.amazonaws.com.attacker.example", 1),
    ],
    ids=["plain http", "foreign host"],
)
def test_a_response_url_that_is_not_cloudformations_is_refused_and_not_logged(sb, caplog, rewrite):
    instance = world.make_instance(sb.ec2)
    resource = Resource(sb)
    event = resource.stack.create("RootVolume", {"InstanceId": instance.instance_id, "Colour": "x"})
    event["ResponseURL"] = rewrite(event["ResponseURL"])
    result = resource.runtime.run(event)
    assert result.responses == []  # nothing was sent anywhere
    assert "Response not sent" in caplog.text
    assert event["ResponseURL"] not in caplog.text
    assert "X-Amz-Signature" not in caplog.text
