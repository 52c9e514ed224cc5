"""`python -m sandbox invoke`: one event file through a handler, with the exit status CloudFormation's answer gives."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from tests.sandbox.sandbox_fixtures import FAKE_HANDLER

REPO = Path(__file__).resolve().parents[2]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    return subprocess.run(
        [sys.executable, "-m", "sandbox", *args],
        check=False,
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _event(tmp_path: Path, **overrides: object) -> Path:
    event = {
        "RequestType": "Create",
        "ResponseURL": "https://example.invalid/replaced",
        "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/cli-stack/0",
        "RequestId": "replaced",
        "LogicalResourceId": "RootVolume",
        "ResourceType": "Custom::RootVolumeReplacement",
        "ResourceProperties": {"InstanceId": "${InstanceId}", "SnapshotId": "${SnapshotId}"},
        **overrides,
    }
    path = tmp_path / "event.json"
    path.write_text(json.dumps(event))
    return path


def test_a_successful_create_exits_0_and_prints_the_timeline(tmp_path: Path) -> None:
    done = _run("invoke", str(_event(tmp_path)), "--handler", FAKE_HANDLER, "--task-seconds", "150")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "Status: SUCCESS" in out
    assert "PhysicalResourceId: replacevol-" in out
    assert "4 invocations (3 polls)" in out  # polls at 60, 120 and 180 s; the task ends at 150 s
    assert "in-progress" in out and "succeeded" in out
    assert "X-Amz-Signature" not in out + done.stderr


def test_a_failed_replacement_exits_1(tmp_path: Path) -> None:
    done = _run(
        "invoke", str(_event(tmp_path)), "--handler", FAKE_HANDLER, "--task-seconds", "100", "--outcome", "failed"
    )
    assert done.returncode == 1, done.stderr
    assert "Status: FAILED" in done.stdout
    assert "ended failed" in done.stdout


def test_an_update_first_creates_the_resource_it_updates(tmp_path: Path) -> None:
    event = _event(
        tmp_path,
        RequestType="Update",
        PhysicalResourceId="${TaskId}",
        OldResourceProperties={"InstanceId": "${InstanceId}"},
    )
    done = _run("invoke", str(event), "--handler", FAKE_HANDLER, "--task-seconds", "60")
    assert done.returncode == 0, done.stderr
    assert "setup: Create RootVolume" in done.stdout
    assert "Update RootVolume" in done.stdout


@pytest.mark.parametrize(
    ("content", "message"),
    [("not json", "cannot read"), ('{"RequestType": "Bogus"}', "not a CloudFormation")],
)
def test_bad_event_files_exit_2(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    done = _run("invoke", str(path), "--handler", FAKE_HANDLER)
    assert done.returncode == 2
    assert message in done.stderr


def test_an_unknown_placeholder_exits_2(tmp_path: Path) -> None:
    event = _event(tmp_path, ResourceProperties={"InstanceId": "${Nope}"})
    done = _run("invoke", str(event), "--handler", FAKE_HANDLER)
    assert done.returncode == 2
    assert "Nope" in done.stderr
