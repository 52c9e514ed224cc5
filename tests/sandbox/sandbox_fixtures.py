"""Fixtures for the sandbox's own tests: a whole Sandbox per test, and an instance ready for replacement."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sandbox import ec2_model, world
from sandbox.session import Sandbox

FAKE_HANDLER = "tests.sandbox.fake_handler:handler"


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox() as fresh:
        yield fresh


def replaceable_instance(sandbox: Sandbox, *, seconds: float, outcome: str = "succeeded") -> str:
    """A running instance whose replacements take `seconds` (2 s pending, the rest in progress) and end `outcome`."""
    instance_id = world.make_instance(sandbox.ec2).instance_id
    failing = 0.0 if outcome == "succeeded" else 10.0
    timeline = ec2_model.Timeline(
        pending_seconds=2, in_progress_seconds=seconds - 2 - failing, failing_seconds=failing, outcome=outcome
    )
    ec2_model.set_timeline(instance_id, timeline)
    return instance_id
