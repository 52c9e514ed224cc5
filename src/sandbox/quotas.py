"""Account quotas that only show at scale, which moto does not enforce: switched on by the fleet benchmark.

Lambda: a function's resource-based policy is at most 20 KB, and that quota cannot be raised; AddPermission
past it fails with `PolicyLengthExceededException` ("The final policy size is bigger than the limit"). A
poller that adds one statement per EventBridge rule (crhelper's design) hits it after a few dozen resources
waiting at the same time.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any

from moto.awslambda.models import LambdaBackend
from moto.core.exceptions import JsonRESTError

LAMBDA_POLICY_MAX_BYTES = 20 * 1024
_state = {"installed": False, "enabled": False}


def policy_size(statements: list[dict[str, Any]]) -> int:
    """Bytes of the policy document Lambda stores for these statements."""
    document = {"Version": "2012-10-17", "Id": "default", "Statement": statements}
    return len(json.dumps(document, separators=(",", ":")).encode())


def _add_permission(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def add_permission(self: LambdaBackend, function_name: str, qualifier: str, raw: str) -> Any:
        statement = original(self, function_name, qualifier, raw)
        if not _state["enabled"]:
            return statement
        policy = self.get_function(function_name, qualifier).policy
        size = policy_size(policy.statements)
        if size > LAMBDA_POLICY_MAX_BYTES:
            policy.statements.remove(statement)
            raise JsonRESTError(
                "PolicyLengthExceededException",
                f"The final policy size ({size}) is bigger than the limit ({LAMBDA_POLICY_MAX_BYTES}).",
            )
        return statement

    return add_permission


def install() -> None:
    if not _state["installed"]:
        LambdaBackend.add_permission = _add_permission(LambdaBackend.add_permission)
        _state["installed"] = True
    _state["enabled"] = True


def uninstall() -> None:
    _state["enabled"] = False
