"""Each Sandbox is a fresh, isolated AWS: nothing carries over between tests, and the environment is restored."""

from __future__ import annotations

import os
import sys
import time

from tests.sandbox.sandbox_fixtures import FAKE_HANDLER

from sandbox import ec2_model, world
from sandbox.session import Sandbox, load_handler


def test_state_does_not_leak_from_one_sandbox_to_the_next() -> None:
    with Sandbox() as first:
        first.events.put_rule(Name="left-over", ScheduleExpression="rate(1 minute)")
        instance_id = world.make_instance(first.ec2).instance_id
        ec2_model.set_timeline(instance_id, ec2_model.Timeline(outcome="failed"))
        first.clock.advance(3600)
    with Sandbox() as second:
        assert second.events.list_rules()["Rules"] == []
        assert second.ec2.describe_instances()["Reservations"] == []
        assert ec2_model.timeline_for(instance_id) == ec2_model.Timeline()
        assert second.clock.now() == Sandbox().clock._start.timestamp()


def test_the_environment_looks_like_lambda_inside_and_is_restored_after(monkeypatch) -> None:
    monkeypatch.setenv("AWS_SAM_LOCAL", "true")  # would silently switch crhelper's polling off
    monkeypatch.setenv("AWS_REGION", "eu-west-3")
    with Sandbox() as sandbox:
        assert "AWS_SAM_LOCAL" not in os.environ
        assert os.environ["AWS_REGION"] == os.environ["AWS_DEFAULT_REGION"] == "us-east-1"
        assert os.environ["AWS_LAMBDA_FUNCTION_NAME"] == sandbox.function_name
        assert os.environ["SSL_CERT_FILE"] == sandbox.endpoint.ca_file
    assert os.environ["AWS_SAM_LOCAL"] == "true"
    assert os.environ["AWS_REGION"] == "eu-west-3"


def test_time_is_virtual_inside_and_real_after() -> None:
    with Sandbox() as sandbox:
        before = time.time()
        time.sleep(3600)
        assert time.time() - before == 3600
        assert sandbox.clock.now_datetime().year == 2026
    assert abs(time.time() - time.perf_counter()) > 0  # the real clock is back (sanity: no exception)


def test_the_handler_module_is_imported_afresh_inside_each_sandbox() -> None:
    with Sandbox():
        first = load_handler(FAKE_HANDLER)
        module = sys.modules["tests.sandbox.fake_handler"]
    with Sandbox():
        second = load_handler(FAKE_HANDLER)
        assert sys.modules["tests.sandbox.fake_handler"] is not module
    assert first is not second


def test_the_real_handler_and_its_package_are_reimported(tmp_path, monkeypatch) -> None:
    (tmp_path / "fresh_app.py").write_text(
        "from helpers import state\n\ndef handler(event, context):\n    return state\n"
    )
    (tmp_path / "helpers").mkdir()
    (tmp_path / "helpers" / "__init__.py").write_text("")
    (tmp_path / "helpers" / "state.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        with Sandbox():
            first = load_handler("fresh_app:handler")({}, None)
            second = load_handler("fresh_app:handler")({}, None)
        assert first is not second  # helpers.state was imported again, not reused
    finally:
        for name in ("fresh_app", "helpers", "helpers.state"):
            sys.modules.pop(name, None)
