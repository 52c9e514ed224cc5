"""The resource's decisions, without AWS."""

from __future__ import annotations

import re

from root_volume_replacement.properties import parse_properties
from root_volume_replacement.rules import (
    RECORD_TAG_KEY,
    TaskRecord,
    UpdateKind,
    client_token,
    deadline_margin,
    failed_create_physical_id,
    failure_reason,
    is_final,
    plan_update,
    polling_name,
    service_deadline,
    settings_fingerprint,
    wait_until,
)

STACK = "arn:aws:cloudformation:us-east-1:123456789012:stack/demo/0c1f3f80-0000-11ef-9e0e-0e6d1a2c3b4d"
BASE = {"InstanceId": "i-0123456789abcdef0", "Tags": [{"Key": "team", "Value": "ops"}]}


def request(**changes):
    return parse_properties({**BASE, **changes})


def test_client_token_is_deterministic_and_within_ec2_limits():
    token = client_token(STACK, "Replace", "req-1")
    assert token == client_token(STACK, "Replace", "req-1")
    assert token != client_token(STACK, "Replace", "req-2")
    assert len(token) <= 64 and token.isascii()


def test_polling_names_fit_eventbridge_and_lambda_for_any_logical_id():
    for logical_id in ("R", "A" * 56, "B" * 57, "C" * 255, "Z9" * 120):
        name = polling_name(logical_id, STACK, "req")
        assert len(name) <= 64
        assert re.fullmatch(r"[\-_A-Za-z0-9]+", name)  # AddPermission allows no dot
        assert name == polling_name(logical_id, STACK, "req")
    assert polling_name("R", STACK, "a") != polling_name("R", STACK, "b")


def test_failed_create_id_is_stable_and_not_a_task_id():
    physical = failed_create_physical_id(STACK, "Replace", "req-1")
    assert physical == failed_create_physical_id(STACK, "Replace", "req-1")
    assert not physical.startswith("replacevol-")


def test_update_plan_replace_when_a_setting_changes():
    current = settings_fingerprint(request())
    for change in (
        {"InstanceId": "i-0fedcba9876543210"},
        {"SnapshotId": "snap-0123456789abcdef0"},
        {"DeleteReplacedRootVolume": "true"},
        {"VolumeInitializationRate": "200"},
        {"Trigger": "again"},
    ):
        assert plan_update(request(**change), current, {"team": "ops"}).kind is UpdateKind.REPLACE, change


def test_update_plan_retags_when_only_tags_change():
    current = settings_fingerprint(request())
    tags = {"team": "ops", "old": "x", RECORD_TAG_KEY: "settings=..."}
    plan = plan_update(request(Tags=[{"Key": "team", "Value": "dev"}, {"Key": "new", "Value": "y"}]), current, tags)
    assert plan.kind is UpdateKind.RETAG
    assert plan.add_tags == {"team": "dev", "new": "y"}
    assert plan.remove_tags == ("old",)


def test_update_plan_nothing_when_only_service_timeout_changes():
    current = settings_fingerprint(request())
    plan = plan_update(request(ServiceTimeout="600"), current, {"team": "ops", RECORD_TAG_KEY: "x"})
    assert plan.kind is UpdateKind.NOTHING


def test_update_plan_replaces_when_the_task_settings_are_unknown():
    assert plan_update(request(), None, {}).kind is UpdateKind.REPLACE


def test_record_round_trips_and_ignores_garbage():
    record = TaskRecord("abcd", "vol-1", "vol-2")
    assert TaskRecord.decode(record.encode()) == record
    assert TaskRecord.decode("settings=abcd") == TaskRecord("abcd")
    assert TaskRecord.decode("user wrote this") is None
    assert TaskRecord.decode(None) is None


def test_unknown_states_count_as_running():
    assert is_final("succeeded") and is_final("failed") and is_final("failed-detached")
    for state in ("pending", "in-progress", "failing", "failing-detached", "some-future-state"):
        assert not is_final(state)


def test_failed_detached_reason_says_there_is_no_root_volume_and_what_to_do():
    reason = failure_reason("replacevol-1", "i-1", "failed-detached")
    assert "NO root volume" in reason and "Attach" in reason and "i-1" in reason and "replacevol-1" in reason


def test_deadline_is_before_service_timeout():
    assert service_deadline(1000.0, 3600) == 1000.0 + 3600 - 30
    assert service_deadline(0.0, 60) == 60 - 12
    assert deadline_margin(10) == 2


def test_wait_windows_end_just_before_each_scheduled_poll():
    since = 1000.0
    # the request itself, right after scheduling: until just before the first poll
    assert wait_until(since + 0.2, since, since + 85, 10_000) == since + 57
    # the k-th poll waits until just before the (k+1)-th, even when it arrives late
    assert wait_until(since + 60.1, since, since + 150, 10_000) == since + 117
    assert wait_until(since + 75, since, since + 165, 10_000) == since + 117
    # bounded by the Lambda timeout and by the service deadline
    assert wait_until(since + 60, since, since + 60 + 30, 10_000) == since + 80
    assert wait_until(since + 60, since, since + 150, since + 70) == since + 70
