"""Lambda entry point for Custom::RootVolumeReplacement: wiring only; the behaviour lives in the package."""

from __future__ import annotations

from root_volume_replacement import actions
from root_volume_replacement.crhelper_adapter import ReplacementResource

helper = ReplacementResource()

helper.create(actions.create)
helper.update(actions.update)
helper.delete(actions.delete)
helper.poll_create(actions.poll_replacement)
helper.poll_update(actions.poll_replacement)
helper.poll_delete(actions.poll_delete)


def handler(event: dict[str, object], context: object) -> None:
    helper(event, context)
