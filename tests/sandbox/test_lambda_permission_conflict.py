"""Lambda refuses a second permission statement with the same id; moto does not (and a leak would hide)."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError


def add(sandbox, sid):
    sandbox.lambda_.add_permission(
        FunctionName=sandbox.function_name,
        StatementId=sid,
        Action="lambda:InvokeFunction",
        Principal="events.amazonaws.com",
        SourceArn="arn:aws:events:us-east-1:123456789012:rule/rvr-x",
    )


def test_a_repeated_statement_id_is_a_conflict_and_the_policy_keeps_one(sandbox):
    sandbox.runtime(handler=lambda event, context: None)  # creates the function in moto
    add(sandbox, "rvr-Replace-0123456789abcdef")
    with pytest.raises(ClientError) as refused:
        add(sandbox, "rvr-Replace-0123456789abcdef")
    assert refused.value.response["Error"]["Code"] == "ResourceConflictException"
    assert "already exists" in refused.value.response["Error"]["Message"]
    policy = json.loads(sandbox.lambda_.get_policy(FunctionName=sandbox.function_name)["Policy"])
    assert [s["Sid"] for s in policy["Statement"]].count("rvr-Replace-0123456789abcdef") == 1
