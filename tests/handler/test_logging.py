"""Structured logs with correlation keys; the ResponseURL never reaches them, at any level."""

from __future__ import annotations

import io
import json
import logging

import pytest

from sandbox import ec2_model, world
from sandbox.ec2_timeline import Timeline

from .harness import Resource, body


def lifecycle(sb) -> list[str]:
    """Create (with polls), tags-only Update, a failing Update, Delete; returns the request events' URLs."""
    instance = world.make_instance(sb.ec2)
    ec2_model.set_timeline(instance.instance_id, Timeline(in_progress_seconds=130))
    resource = Resource(sb)
    properties = {"InstanceId": instance.instance_id, "Tags": [{"Key": "a", "Value": "b"}]}
    assert body(resource.create(properties))["Status"] == "SUCCESS"
    assert body(resource.update({**properties, "Tags": []}))["Status"] == "SUCCESS"
    assert body(resource.update({**properties, "Colour": "red"}))["Status"] == "FAILED"
    assert body(resource.delete())["Status"] == "SUCCESS"
    return sb.endpoint.secrets()


SERVICE = "root-volume-replacement"


@pytest.fixture
def function_log():
    """What the function prints (Powertools writes to the stdout it saw at import, so capsys cannot see it)."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)

    class AsTheFunctionFormatsIt(logging.Formatter):
        """The handler is imported later, per sandbox: format with whatever formatter its logger has then."""

        def format(self, record):
            own = next(h for h in logging.getLogger(SERVICE).handlers if h is not handler)
            return own.formatter.format(record)

    handler.setFormatter(AsTheFunctionFormatsIt())
    logging.getLogger(SERVICE).addHandler(handler)
    yield stream
    logging.getLogger(SERVICE).removeHandler(handler)


@pytest.mark.parametrize("level", ["DEBUG", "INFO", "WARNING", "ERROR"])
def test_no_log_line_at_any_level_contains_the_response_url(sb, capsys, caplog, monkeypatch, function_log, level):
    monkeypatch.setenv("POWERTOOLS_LOG_LEVEL", level)
    caplog.set_level(logging.DEBUG)
    secrets = lifecycle(sb)
    captured = capsys.readouterr()
    everything = (
        function_log.getvalue()
        + captured.out
        + captured.err
        + caplog.text
        + "".join(r.getMessage() for r in caplog.records)
    )
    assert secrets, "the endpoint hands out URLs and signatures"
    assert "Replacement started" in function_log.getvalue() or level in ("WARNING", "ERROR")
    for secret in secrets:
        assert secret not in everything
    assert "X-Amz-Signature=" not in everything or "X-Amz-Signature=[redacted]" in everything


def test_log_lines_are_json_with_correlation_keys(sb, function_log):
    instance = world.make_instance(sb.ec2)
    body(Resource(sb).create({"InstanceId": instance.instance_id}))
    lines = [json.loads(line) for line in function_log.getvalue().splitlines()]
    started = next(line for line in lines if line["message"] == "Replacement started")
    assert started["level"] == "INFO"
    for key in ("StackId", "LogicalResourceId", "RequestId", "TaskId"):
        assert started[key]
    assert all(line["level"] != "DEBUG" for line in lines)  # INFO by default
