"""The handler run as Lambda and EventBridge run it: context, timeouts, async retries, crhelper's polling."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import pytest
from tests.sandbox.sandbox_fixtures import FAKE_HANDLER, replaceable_instance

from sandbox import ec2_model, lambda_function, template
from sandbox.lambda_runtime import RETRY_DELAYS, Invocation
from sandbox.session import Sandbox


def _offsets(result: Any, invocations: list[Invocation]) -> list[float]:
    return [round(invocation.started_at - result.started_at, 3) for invocation in invocations]


def _crhelper(create: Any, poll: Any = None, *, log_level: str = "INFO") -> Any:
    """A crhelper 2.0.12 function built inside the sandbox (CfnResource makes its clients in __init__)."""
    from crhelper import CfnResource

    helper = CfnResource(polling_interval=1, sleep_on_delete=0, log_level=log_level)
    helper.create(create)
    if poll is not None:
        helper.poll_create(poll)
    return helper


# -- the context ---------------------------------------------------------------------------------------------
def test_the_context_follows_the_virtual_clock_down_to_the_timeout(sandbox: Sandbox) -> None:
    seen: dict[str, Any] = {}

    def handler(event: dict[str, Any], context: Any) -> str:
        seen["before"] = context.get_remaining_time_in_millis()
        time.sleep(25)
        seen["after"] = context.get_remaining_time_in_millis()
        seen["context"] = context
        return "done"

    invocation = sandbox.runtime(handler, timeout_seconds=90).invoke({"RequestType": "Create"})
    assert (seen["before"], seen["after"]) == (90_000, 65_000)
    context = seen["context"]
    assert context.function_name == sandbox.function_name
    assert context.invoked_function_arn == sandbox.function_arn
    assert context.log_group_name == f"/aws/lambda/{sandbox.function_name}"
    assert context.aws_request_id == invocation.aws_request_id
    assert isinstance(context.memory_limit_in_mb, int)
    assert (invocation.outcome, invocation.result, invocation.duration) == ("ok", "done", 25)


def test_sleeping_past_the_timeout_stops_the_invocation_at_the_deadline(sandbox: Sandbox) -> None:
    def handler(event: dict[str, Any], context: Any) -> None:
        try:
            time.sleep(500)
        except Exception:  # the handler cannot catch Lambda's timeout
            pytest.fail("FunctionTimedOut must not be an Exception")

    invocation = sandbox.runtime(handler, timeout_seconds=30).invoke({})
    assert invocation.outcome == "timeout"
    assert invocation.duration == 30
    assert "Task timed out after 30.00 seconds" in (invocation.error or "")


def test_the_timeout_comes_from_template_yaml(tmp_path: Path) -> None:
    path = tmp_path / "template.yaml"
    path.write_text(
        "Transform: AWS::Serverless-2016-10-31\n"
        "Parameters:\n  FunctionTimeout:\n    Type: Number\n    Default: 120\n"
        "Globals:\n  Function:\n    Timeout: 90\n    MemorySize: 256\n"
        "Resources:\n"
        "  RootVolumeReplacementFunction:\n    Type: AWS::Serverless::Function\n"
        "    Properties:\n      Handler: app.handler\n      Role: !GetAtt Role.Arn\n"
        "      Environment:\n        Variables:\n          NAME: !Sub '${AWS::StackName}-x'\n"
        "  Other:\n    Type: AWS::Serverless::Function\n    Properties:\n      Timeout: !Ref FunctionTimeout\n"
    )
    assert template.function_timeout("RootVolumeReplacementFunction", path) == 90
    assert template.function_timeout("Other", path) == 120
    assert template.function_memory("RootVolumeReplacementFunction", path) == 256
    assert template.function_timeout(path=tmp_path / "missing.yaml") == template.FALLBACK_TIMEOUT
    bare = tmp_path / "bare.yaml"
    bare.write_text("Resources:\n  F:\n    Type: AWS::Lambda::Function\n    Properties: {}\n")
    assert template.function_timeout(path=bare) == 3  # Lambda's own default


# -- async retries -------------------------------------------------------------------------------------------
def test_an_unhandled_error_is_redelivered_twice_then_dropped(sandbox: Sandbox) -> None:
    received: list[dict[str, Any]] = []

    def handler(event: dict[str, Any], context: Any) -> None:
        received.append(dict(event))
        event["Mutated"] = True  # Lambda redelivers the original payload, not this object
        time.sleep(3)
        raise RuntimeError("boom")

    result = sandbox.runtime(handler, timeout_seconds=30).run({"RequestType": "Create", "RequestId": "r-1"})
    attempts = result.invocations
    assert [i.attempt for i in attempts] == [0, 1, 2]
    assert [i.outcome for i in attempts] == ["error"] * 3
    assert _offsets(result, attempts) == [0, 3 + RETRY_DELAYS[0], 3 + RETRY_DELAYS[0] + 3 + RETRY_DELAYS[1]]
    assert all(event == {"RequestType": "Create", "RequestId": "r-1"} for event in received)
    assert len({i.aws_request_id for i in attempts}) == 3
    assert [e.kind for e in result.timeline].count("retry") == 2
    assert "retries exhausted" in result.timeline[-1].detail


def test_a_timeout_is_retried_like_an_error(sandbox: Sandbox) -> None:
    result = sandbox.runtime(lambda event, context: time.sleep(1000), timeout_seconds=90).run({"RequestId": "r"})
    assert [i.outcome for i in result.invocations] == ["timeout"] * 3
    assert _offsets(result, result.invocations) == [0, 150, 360]
    assert [e.kind for e in result.timeline].count("timeout") == 3


def test_a_retry_that_succeeds_ends_the_retries(sandbox: Sandbox) -> None:
    calls: list[int] = []

    def handler(event: dict[str, Any], context: Any) -> None:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("transient")

    result = sandbox.runtime(handler, timeout_seconds=30).run({"RequestId": "r"})
    assert [i.outcome for i in result.invocations] == ["error", "ok"]


def test_crhelpers_timer_sends_failed_at_the_deadline_on_every_attempt(sandbox: Sandbox) -> None:
    helper = _crhelper(lambda event, context: time.sleep(600))
    event = sandbox.stack().create("Slow", {})
    result = sandbox.runtime(helper, timeout_seconds=90).run(event)
    assert [i.outcome for i in result.invocations] == ["timeout"] * 3
    assert [r.field("Reason") for r in result.responses] == ["Execution timed out"] * 3
    assert [round(r.received_at - result.started_at) for r in result.responses] == [90, 240, 450]
    assert result.status == "FAILED"


# -- crhelper's polling through EventBridge ------------------------------------------------------------------
def test_a_ten_minute_replacement_runs_create_polls_success(sandbox: Sandbox) -> None:
    instance_id = replaceable_instance(sandbox, seconds=600)
    runtime = sandbox.runtime(FAKE_HANDLER)
    permissions_after: list[int] = []

    def count_permissions(invocation: Invocation) -> list[str]:
        permissions_after.append(
            len(lambda_function.events_permissions(sandbox.function_name, "us-east-1", "123456789012"))
        )
        return []

    result = runtime.run(
        sandbox.stack().create("RootVolume", {"InstanceId": instance_id}), on_invocation=count_permissions
    )

    assert result.status == "SUCCESS"
    assert len(result.polls) == 10
    assert _offsets(result, result.polls) == [60.0 * k for k in range(1, 11)]
    assert result.virtual_seconds == 600
    response = sandbox.endpoint.response_for(result.request_id)  # exactly one PUT
    assert response is not None
    task_id = response.field("PhysicalResourceId")
    assert response.field("Data") == {"TaskId": task_id}
    assert [t.state() for t in ec2_model.tasks() if t.id == task_id] == ["succeeded"]
    # crhelper's add_permission/remove_permission worked against the sandbox's Lambda.
    assert permissions_after[0] == 1
    assert permissions_after[-1] == 0
    assert result.leftover_rules == []
    assert result.leftover_permissions == []
    assert result.stopped_because.startswith("nothing left to run")


def test_a_failed_replacement_reports_failed_and_cleans_up(sandbox: Sandbox) -> None:
    instance_id = replaceable_instance(sandbox, seconds=150, outcome="failed")
    result = sandbox.runtime(FAKE_HANDLER).run(sandbox.stack().create("RootVolume", {"InstanceId": instance_id}))
    assert result.status == "FAILED"
    assert result.response.field("Reason").endswith("ended failed")
    assert _offsets(result, result.polls) == [60, 120, 180]
    assert (result.leftover_rules, result.leftover_permissions) == ([], [])


def test_polls_count_from_the_rules_creation_not_the_invocation_start(sandbox: Sandbox) -> None:
    polls: list[float] = []

    def create(event: dict[str, Any], context: Any) -> None:
        time.sleep(7)  # crhelper creates the rule after the request function returns

    def poll(event: dict[str, Any], context: Any) -> str | None:
        polls.append(time.time())
        return "done" if len(polls) == 2 else None

    result = sandbox.runtime(_crhelper(create, poll), timeout_seconds=60).run(sandbox.stack().create("Res", {}))
    assert [round(t - result.started_at) for t in polls] == [67, 127]
    assert result.status == "SUCCESS"


def test_duplicate_deliveries_make_crhelper_send_failed_after_success(sandbox: Sandbox) -> None:
    instance_id = replaceable_instance(sandbox, seconds=120)
    runtime = sandbox.runtime(FAKE_HANDLER, duplicate_polls=True)
    result = runtime.run(sandbox.stack().create("RootVolume", {"InstanceId": instance_id}))
    assert [r.field("Status") for r in result.responses] == ["SUCCESS", "FAILED"]
    assert "does not exist" in result.responses[1].field("Reason")  # remove_targets on the deleted rule
    assert result.status == "SUCCESS"  # CloudFormation acted on the first one
    assert sum(i.duplicate for i in result.polls) == 2


def test_a_late_poll_after_completion_also_sends_a_second_response(sandbox: Sandbox) -> None:
    instance_id = replaceable_instance(sandbox, seconds=100)
    runtime = sandbox.runtime(FAKE_HANDLER, poll_delay_seconds=90)
    result = runtime.run(sandbox.stack().create("RootVolume", {"InstanceId": instance_id}))
    # Fires at 60 and 120 (the rule still existed then), delivered 90 s late each.
    assert _offsets(result, result.polls) == [150, 210]
    assert [r.field("Status") for r in result.responses] == ["SUCCESS", "FAILED"]


def test_a_fire_due_during_a_long_invocation_still_sees_the_rule_as_it_was(sandbox: Sandbox) -> None:
    polls: list[float] = []

    def poll(event: dict[str, Any], context: Any) -> str | None:
        polls.append(time.time())
        time.sleep(70)  # longer than the rate: the next fire is due while this runs
        return "done"

    result = sandbox.runtime(_crhelper(lambda e, c: None, poll), timeout_seconds=90).run(
        sandbox.stack().create("R", {})
    )
    # In AWS the fire at 120 runs concurrently with the poll that started at 60 and deletes the rule at 130.
    assert [round(t - result.started_at) for t in polls] == [60, 130]
    assert [r.field("Status") for r in result.responses] == ["SUCCESS", "FAILED"]


def test_without_a_permission_eventbridge_cannot_invoke_the_function(sandbox: Sandbox) -> None:
    def handler(event: dict[str, Any], context: Any) -> None:
        if "Poll" in event:
            pytest.fail("EventBridge must not reach the function")
        sandbox.events.put_rule(Name="poll", ScheduleExpression="rate(2 minutes)", State="ENABLED")
        sandbox.events.put_targets(
            Rule="poll", Targets=[{"Id": "1", "Arn": context.invoked_function_arn, "Input": '{"Poll": 1}'}]
        )

    runtime = sandbox.runtime(handler, timeout_seconds=30, max_virtual_seconds=600)
    result = runtime.run({"RequestId": "r"})
    undeliverable = [e for e in result.timeline if e.kind == "undeliverable"]
    assert [e.at for e in undeliverable] == [120, 240, 360, 480, 600]
    assert len(result.invocations) == 1
    assert result.leftover_rules == ["poll"]
    assert result.stopped_because == "stopped after 600 virtual seconds"


def test_a_target_without_input_receives_eventbridges_scheduled_event(sandbox: Sandbox) -> None:
    received: list[dict[str, Any]] = []

    def handler(event: dict[str, Any], context: Any) -> None:
        received.append(event)
        if event.get("source") == "aws.events":
            sandbox.events.remove_targets(Rule="tick", Ids=["1"])
            return
        rule_arn = sandbox.events.put_rule(Name="tick", ScheduleExpression="rate(1 minute)")["RuleArn"]
        sandbox.lambda_.add_permission(
            FunctionName=context.function_name,
            StatementId="tick",
            Action="lambda:InvokeFunction",
            Principal="events.amazonaws.com",
            SourceArn=rule_arn,
        )
        sandbox.events.put_targets(Rule="tick", Targets=[{"Id": "1", "Arn": context.invoked_function_arn}])

    sandbox.runtime(handler, timeout_seconds=30).run({"RequestId": "r"})
    scheduled = received[1]
    assert scheduled["detail-type"] == "Scheduled Event"
    assert scheduled["resources"] == ["arn:aws:events:us-east-1:123456789012:rule/tick"]
    assert scheduled["time"] == "2026-01-05T09:01:00Z"


def test_a_poller_that_never_finishes_is_stopped_at_the_virtual_limit(sandbox: Sandbox) -> None:
    helper = _crhelper(lambda e, c: None, lambda e, c: None)  # crhelper has no overall deadline (#5)
    runtime = sandbox.runtime(helper, timeout_seconds=30, max_virtual_seconds=4000)
    result = runtime.run(sandbox.stack().create("R", {"ServiceTimeout": 3000}))
    assert result.status is None
    assert len(result.polls) == 66
    assert [e.at for e in result.timeline if e.kind == "cloudformation"] == [3000]
    assert len(result.leftover_rules) == 1
    assert len(result.leftover_permissions) == 1


# -- what reaches the logs -----------------------------------------------------------------------------------
def test_the_fake_handler_keeps_the_response_url_out_of_its_logs(sandbox: Sandbox) -> None:
    logging.getLogger("crhelper").setLevel(logging.NOTSET)  # as in its own process (restored by the sandbox)
    instance_id = replaceable_instance(sandbox, seconds=60)
    result = sandbox.runtime(FAKE_HANDLER).run(sandbox.stack().create("RootVolume", {"InstanceId": instance_id}))
    assert result.logs  # something was logged
    logs = "\n".join(result.logs)
    assert not [secret for secret in sandbox.endpoint.secrets() if secret in logs]


def test_crhelpers_default_debug_logging_leaks_the_response_url(sandbox: Sandbox) -> None:
    logging.getLogger("crhelper").setLevel(logging.NOTSET)  # as in its own process (restored by the sandbox)
    helper = _crhelper(lambda e, c: "id", log_level="DEBUG")
    result = sandbox.runtime(helper, timeout_seconds=30).run(sandbox.stack().create("R", {}))
    logs = "\n".join(result.logs)
    assert [secret for secret in sandbox.endpoint.secrets() if secret in logs]


@pytest.mark.smoke
def test_smoke_wall_time_of_a_ten_minute_replacement(sandbox: Sandbox) -> None:
    instance_id = replaceable_instance(sandbox, seconds=600)
    runtime = sandbox.runtime(FAKE_HANDLER)
    event = sandbox.stack().create("RootVolume", {"InstanceId": instance_id})
    started = time.perf_counter()
    result = runtime.run(event)
    wall = time.perf_counter() - started
    print(
        f"\n10-minute replacement: {result.virtual_seconds:.0f} virtual s, {len(result.polls)} polls, {wall:.3f} s wall"
    )
    assert result.status == "SUCCESS"
