"""The call log and fault injector, seen through real boto3 clients and botocore's own retries."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from tests.sandbox.ec2_fixtures import NO_RETRIES, error_of

import sandbox
from sandbox import aws_calls
from sandbox.world import make_instance


def test_every_attempt_is_logged_with_its_parameters_and_virtual_time(ec2, ec2_clock):
    start = ec2_clock.now()
    ec2_clock.advance(42)
    ec2.describe_replace_root_volume_tasks(MaxResults=5)
    (call,) = aws_calls.calls()
    assert (call.service, call.operation, call.at, call.faulted) == (
        "ec2",
        "DescribeReplaceRootVolumeTasks",
        start + 42,
        False,
    )
    assert call.params["MaxResults"] == "5"


def test_clients_created_before_the_mock_are_seen():
    early = boto3.client("events", region_name="us-east-1", config=NO_RETRIES)
    with mock_aws():
        aws_calls.install()
        aws_calls.reset()
        early.put_rule(Name="poll", ScheduleExpression="rate(1 minute)")
        late = boto3.client("lambda", region_name="us-east-1")
        late.list_functions()
    assert [(c.service, c.operation) for c in aws_calls.calls()] == [
        ("events", "PutRule"),
        ("lambda", "ListFunctions"),
    ]
    assert aws_calls.calls()[0].params == {"Name": "poll", "ScheduleExpression": "rate(1 minute)"}


def test_one_throttle_is_absorbed_by_a_standard_retry(ec2, ec2_clock):
    aws_calls.inject_fault("ec2", "DescribeInstances", "throttle")
    ec2.describe_instances()
    assert [c.faulted for c in aws_calls.calls()] == [True, False]
    assert ec2_clock.slept > 0  # botocore's backoff slept, in virtual time


def test_more_faults_than_attempts_surface_the_error(ec2):
    instance = make_instance(ec2)
    aws_calls.reset()
    aws_calls.inject_fault("ec2", "CreateReplaceRootVolumeTask", "throttle", times=3)
    with pytest.raises(ClientError) as excinfo:
        ec2.create_replace_root_volume_task(InstanceId=instance.instance_id)
    assert error_of(excinfo) == ("RequestLimitExceeded", 503)
    assert [c.faulted for c in aws_calls.ec2_mutations()] == [True, True, True]
    # The fault is used up: the next call goes through, and nothing was created by the failed ones.
    assert ec2.describe_replace_root_volume_tasks()["ReplaceRootVolumeTasks"] == []


@pytest.mark.parametrize(
    ("service", "operation", "kind", "expected"),
    [
        ("ec2", "DescribeInstances", "server_error", ("InternalError", 500)),
        ("events", "PutRule", "throttle", ("ThrottlingException", 400)),
        ("events", "PutRule", "server_error", ("InternalException", 500)),
        ("lambda", "AddPermission", "throttle", ("TooManyRequestsException", 429)),
        ("lambda", "AddPermission", "server_error", ("ServiceException", 500)),
    ],
)
def test_faults_use_each_services_own_error_format(ec2, service, operation, kind, expected):
    aws_calls.inject_fault(service, operation, kind)
    client = boto3.client(service, region_name="us-east-1", config=NO_RETRIES)
    method, params = {
        "DescribeInstances": ("describe_instances", {}),
        "PutRule": ("put_rule", {"Name": "r", "ScheduleExpression": "rate(1 minute)"}),
        "AddPermission": (
            "add_permission",
            {
                "FunctionName": "f",
                "StatementId": "s",
                "Action": "lambda:InvokeFunction",
                "Principal": "events.amazonaws.com",
            },
        ),
    }[operation]
    with pytest.raises(ClientError) as excinfo:
        getattr(client, method)(**params)
    assert error_of(excinfo) == expected
    assert aws_calls.calls()[-1].faulted


def test_server_errors_are_retried_too(ec2):
    aws_calls.inject_fault("ec2", "DescribeInstances", "server_error", times=2)
    ec2.describe_instances()
    assert [c.faulted for c in aws_calls.calls()] == [True, True, False]


def test_mutations_and_reset(ec2):
    make_instance(ec2)
    mutations = [c.operation for c in aws_calls.ec2_mutations()]
    assert {"RunInstances", "CreateSnapshot", "RegisterImage"} <= set(mutations)
    assert "DescribeInstances" not in mutations
    assert set(mutations) <= aws_calls.MUTATING_EC2_OPERATIONS
    aws_calls.inject_fault("ec2", "DescribeInstances", "throttle", times=5)
    aws_calls.reset()
    assert aws_calls.calls() == []
    boto3.client("ec2", config=NO_RETRIES).describe_instances()  # the fault went with the reset
    assert [c.faulted for c in aws_calls.calls()] == [False]


def test_clients_created_before_install_are_seen(tmp_path):
    # install() is process-wide and idempotent, so only a fresh interpreter can show "before install".
    script = textwrap.dedent(
        """
        import boto3
        from moto import mock_aws
        from sandbox import aws_calls

        early = boto3.client("ec2", region_name="us-east-1")
        with mock_aws():
            aws_calls.install()
            early.describe_instances()
        print([(c.service, c.operation) for c in aws_calls.calls()])
        """
    )
    env = {**os.environ, "PYTHONPATH": str(Path(sandbox.__file__).parents[1])}
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=tmp_path, env=env
    )
    assert done.stdout.strip() == "[('ec2', 'DescribeInstances')]"
