"""Fixtures for the EC2 model's tests: fake credentials, virtual time, moto with our EC2 actions installed."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from moto import mock_aws

from sandbox import aws_calls, ec2_model
from sandbox.clock import VirtualClock

# Explicit, as the handler does: standard mode, three attempts in all.
STANDARD_RETRIES = Config(retries={"mode": "standard", "total_max_attempts": 3})
NO_RETRIES = Config(retries={"mode": "standard", "total_max_attempts": 1})


@pytest.fixture(autouse=True)
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    monkeypatch.delenv("AWS_PROFILE", raising=False)


@pytest.fixture
def ec2_clock() -> Iterator[VirtualClock]:
    with VirtualClock() as clock:
        yield clock


@pytest.fixture
def ec2(ec2_clock: VirtualClock) -> Iterator[Any]:
    """An EC2 client against moto with the replace-root-volume model, in virtual time."""
    with mock_aws():
        ec2_model.install()
        aws_calls.install()
        aws_calls.reset()
        ec2_model.reset_timelines()
        yield boto3.client("ec2", region_name="us-east-1", config=STANDARD_RETRIES)
        ec2_model.reset_timelines()
        aws_calls.reset()


def error_of(excinfo: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    """(EC2 error code, HTTP status) of a ClientError."""
    response: Any = excinfo.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]
