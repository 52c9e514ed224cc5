"""AWS's limits on the calls crhelper's polling makes: the sandbox rejects what AWS rejects, with AWS's words."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError
from tests.sandbox.sandbox_fixtures import FAKE_HANDLER, replaceable_instance

from sandbox import aws_limits
from sandbox.session import Sandbox

RATE = "rate(1 minute)"


def _error(excinfo: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    return excinfo.value.response["Error"]["Code"], excinfo.value.response["Error"]["Message"]


def _function(sandbox: Sandbox) -> str:
    sandbox.runtime(lambda event, context: None, timeout_seconds=30)  # registers the function in moto
    return sandbox.function_name


def _rule(sandbox: Sandbox, name: str = "poll-rule") -> str:
    return str(sandbox.events.put_rule(Name=name, ScheduleExpression=RATE, State="ENABLED")["RuleArn"])


# -- EventBridge PutRule -------------------------------------------------------------------------------------
def test_rule_name_of_64_characters_is_accepted(sandbox: Sandbox) -> None:
    arn = _rule(sandbox, "R" * 64)
    assert arn.endswith("rule/" + "R" * 64)


def test_rule_name_over_64_characters_is_rejected_like_eventbridge(sandbox: Sandbox) -> None:
    name = "R" * 65
    with pytest.raises(ClientError) as excinfo:
        sandbox.events.put_rule(Name=name, ScheduleExpression=RATE, State="ENABLED")
    assert _error(excinfo) == (
        "ValidationException",
        f"1 validation error detected: Value '{name}' at 'name' failed to satisfy constraint: "
        "Member must have length less than or equal to 64",
    )
    assert sandbox.events.list_rules()["Rules"] == []


@pytest.mark.parametrize("name", ["has space", "slash/rule", "colon:rule", "ünïcode"])
def test_rule_name_outside_the_allowed_characters_is_rejected(sandbox: Sandbox, name: str) -> None:
    with pytest.raises(ClientError) as excinfo:
        sandbox.events.put_rule(Name=name, ScheduleExpression=RATE)
    code, message = _error(excinfo)
    assert code == "ValidationException"
    assert message.endswith("Member must satisfy regular expression pattern: [\\.\\-_A-Za-z0-9]+")


def test_every_broken_constraint_is_reported_in_one_message(sandbox: Sandbox) -> None:
    with pytest.raises(ClientError) as excinfo:
        sandbox.events.put_rule(Name="x y" * 30, ScheduleExpression=RATE)
    assert _error(excinfo)[1].startswith("2 validation errors detected: ")


def test_the_allowed_punctuation_is_accepted(sandbox: Sandbox) -> None:
    assert _rule(sandbox, "Stack.Resource-poll_1")


# -- EventBridge PutTargets ----------------------------------------------------------------------------------
def test_target_input_of_8192_characters_is_accepted(sandbox: Sandbox) -> None:
    _rule(sandbox)
    payload = '"' + "x" * 8190 + '"'
    target = {"Id": "1", "Arn": sandbox.function_arn, "Input": payload}
    assert sandbox.events.put_targets(Rule="poll-rule", Targets=[target])["FailedEntryCount"] == 0


def test_target_input_over_8192_characters_is_rejected_whole(sandbox: Sandbox) -> None:
    _rule(sandbox)
    payload = '"' + "x" * 8191 + '"'
    with pytest.raises(ClientError) as excinfo:
        sandbox.events.put_targets(
            Rule="poll-rule", Targets=[{"Id": "1", "Arn": sandbox.function_arn, "Input": payload}]
        )
    code, message = _error(excinfo)
    assert code == "ValidationException"
    assert "at 'targets.1.member.input' failed to satisfy constraint" in message
    assert message.endswith("Member must have length less than or equal to 8192")
    assert sandbox.events.list_targets_by_rule(Rule="poll-rule")["Targets"] == []


# -- Lambda AddPermission / RemovePermission -----------------------------------------------------------------
def _add_permission(sandbox: Sandbox, statement_id: str) -> None:
    sandbox.lambda_.add_permission(
        FunctionName=_function(sandbox),
        StatementId=statement_id,
        Action="lambda:InvokeFunction",
        Principal="events.amazonaws.com",
        SourceArn=f"arn:aws:events:us-east-1:123456789012:rule/{'r' * 10}",
    )


def test_statement_id_of_100_characters_is_accepted(sandbox: Sandbox) -> None:
    _add_permission(sandbox, "S" * 100)
    assert "S" * 100 in sandbox.lambda_.get_policy(FunctionName=sandbox.function_name)["Policy"]


def test_statement_id_over_100_characters_is_rejected_like_lambda(sandbox: Sandbox) -> None:
    statement_id = "S" * 101
    with pytest.raises(ClientError) as excinfo:
        _add_permission(sandbox, statement_id)
    assert _error(excinfo) == (
        "ValidationException",
        f"1 validation error detected: Value '{statement_id}' at 'statementId' failed to satisfy constraint: "
        "Member must have length less than or equal to 100",
    )


def test_add_permission_rejects_a_dot(sandbox: Sandbox) -> None:
    # AddPermission's StatementId pattern is ([a-zA-Z0-9-_]+); only RemovePermission's allows '.' as well.
    with pytest.raises(ClientError) as excinfo:
        _add_permission(sandbox, "stack.resource")
    assert _error(excinfo)[1].endswith("Member must satisfy regular expression pattern: ([a-zA-Z0-9-_]+)")
    assert aws_limits.remove_permission_violations("stack.resource") == []


# -- crhelper 2.0.12 against the limits ----------------------------------------------------------------------
def _crhelper(logical_id: str):  # constructed inside the sandbox: CfnResource makes clients in __init__
    from crhelper import CfnResource

    helper = CfnResource(polling_interval=1, sleep_on_delete=0, log_level="INFO")
    helper._event = {"LogicalResourceId": logical_id}
    return helper


def test_crhelper_put_rule_fails_for_a_60_character_logical_id(sandbox: Sandbox) -> None:
    helper = _crhelper("L" * 60)
    with pytest.raises(ClientError) as excinfo:
        helper._put_rule()  # name = logical id + 8 random characters = 68 (crhelper issue #61)
    code, message = _error(excinfo)
    assert code == "ValidationException"
    assert "Member must have length less than or equal to 64" in message


def test_without_the_limits_moto_would_have_let_that_rule_through(sandbox: Sandbox) -> None:
    aws_limits.uninstall()
    try:
        rule_arn = _crhelper("L" * 60)._put_rule()
        assert len(rule_arn.split("/")[-1]) == 68
    finally:
        aws_limits.install()
    assert aws_limits.installed()


def test_crhelper_put_rule_fits_up_to_a_56_character_logical_id(sandbox: Sandbox) -> None:
    rule_arn = _crhelper("L" * 56)._put_rule()
    assert len(rule_arn.split("/")[-1]) == 64


def test_a_long_logical_id_fails_the_stack_as_in_production(sandbox: Sandbox) -> None:
    instance_id = replaceable_instance(sandbox, seconds=120)
    runtime = sandbox.runtime(FAKE_HANDLER)
    result = runtime.run(sandbox.stack().create("R" * 60, {"InstanceId": instance_id}))
    assert result.status == "FAILED"
    reason = result.response.field("Reason")
    assert "PutRule" in reason
    assert "Member must have length less than or equal to 64" in reason
    assert result.polls == []


def test_install_is_idempotent(sandbox: Sandbox) -> None:
    from moto.events.models import EventsBackend

    before = EventsBackend.put_rule
    aws_limits.install()
    aws_limits.install()
    assert EventsBackend.put_rule is before
    with pytest.raises(ClientError):
        _rule(sandbox, "R" * 65)


def test_large_properties_overflow_crhelpers_target_input_and_leave_the_rule_behind(sandbox: Sandbox) -> None:
    instance_id = replaceable_instance(sandbox, seconds=120)
    runtime = sandbox.runtime(FAKE_HANDLER)
    properties = {"InstanceId": instance_id, "Notes": "n" * 8000}  # crhelper puts the whole event in Input
    result = runtime.run(sandbox.stack().create("RootVolume", properties))
    assert result.status == "FAILED"
    assert "targets.1.member.input" in result.response.field("Reason")
    # PutRule and AddPermission had succeeded: crhelper never cleans them up.
    assert len(result.leftover_rules) == 1
    assert result.leftover_rules[0].startswith("RootVolume")
    assert len(result.leftover_permissions) == 1
