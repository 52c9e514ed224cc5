"""The function's record in the sandbox's Lambda service (moto), and its resource-based policy.

crhelper calls `add_permission(FunctionName=context.function_name, ...)` so that EventBridge may invoke the
function; moto only accepts that for a function it knows, so the runtime registers a stub function (its code
is never run by moto: the sandbox calls the Python handler directly). The policy is then what decides whether
a scheduled rule can invoke the function, as in AWS.
"""

from __future__ import annotations

import base64
import fnmatch
import functools
import io
import json
import time
import zipfile
from collections.abc import Callable
from typing import Any

from moto.awslambda.models import LambdaBackend, LambdaFunction
from moto.awslambda.utils import get_backend
from moto.iam.exceptions import NotFoundException as IAMNotFoundException
from moto.iam.models import iam_backends

from sandbox import template

EVENTS_PRINCIPAL = "events.amazonaws.com"
_installed: list[bool] = []
# (account, region, function name) -> [(statement, virtual time it was removed)]: an EventBridge fire that is
# processed late (another invocation was running) must see the policy as it stood at the fire's moment.
_REMOVED: dict[tuple[str, str, str], list[tuple[dict[str, Any], float]]] = {}
_ROLE_NAME = "sandbox-lambda-execution-role"
_ASSUME_ROLE = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
)


def function_arn(function_name: str, region: str, account: str) -> str:
    return f"arn:aws:lambda:{region}:{account}:function:{function_name}"


def _stub_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", "def handler(event, context):\n    raise RuntimeError('run by the sandbox')\n")
    return buffer.getvalue()


def ensure_function(function_name: str, region: str, account: str, *, timeout: float, memory_mb: int) -> None:
    """Register the function with moto unless it exists.

    Straight into moto's backends, not through the API: setting the stage is not a call the function made,
    and must not show in the sandbox's AWS call log. The permissions the template grants (AWS::Lambda::Permission)
    are in the function's policy from the start, as after a deployment.
    """
    if _function(function_name, region, account) is not None:
        return
    iam = iam_backends[account]["aws"]
    try:
        role = iam.get_role(_ROLE_NAME)
    except IAMNotFoundException:
        role = iam.create_role(_ROLE_NAME, _ASSUME_ROLE, "/", None, "sandbox Lambda role", [], None)
    get_backend(account, region).create_function(
        {
            "FunctionName": function_name,
            "Runtime": "python3.13",
            "Role": role.arn,
            "Handler": "app.handler",
            "Code": {"ZipFile": base64.b64encode(_stub_zip()).decode()},
            "Timeout": max(1, int(timeout)),
            "MemorySize": memory_mb,
            "Architectures": ["arm64"],
        }
    )
    function = _function(function_name, region, account)
    if function is not None:
        arn = function_arn(function_name, region, account)
        function.policy.statements.extend(template.invoke_permissions(arn, region=region, account=account))


def _journaling_remove_permission(original: Callable[..., None]) -> Callable[..., None]:
    @functools.wraps(original)
    def remove_permission(self: LambdaBackend, function_name: str, sid: str, revision: str = "") -> None:
        before = [dict(s) for s in self.get_function(function_name).policy.statements if s.get("Sid") == sid]
        original(self, function_name, sid, revision)
        journal = _REMOVED.setdefault((self.account_id, self.region_name, function_name), [])
        journal.extend((statement, time.time()) for statement in before)

    return remove_permission


def install() -> None:
    """Journal permission removals (idempotent)."""
    if _installed:
        return
    patched = _journaling_remove_permission(LambdaBackend.remove_permission)
    setattr(LambdaBackend, "remove_permission", patched)  # noqa: B010 (moto is untyped here)
    _installed.append(True)


def reset() -> None:
    _REMOVED.clear()


def _function(function_name: str, region: str, account: str) -> LambdaFunction | None:
    try:
        found: LambdaFunction = get_backend(account, region).get_function(function_name)
    except Exception:  # moto raises its own not-found error types
        return None
    return found


def policy_statements(function_name: str, region: str, account: str) -> list[dict[str, Any]]:
    function = _function(function_name, region, account)
    if function is None:
        return []
    return [dict(statement) for statement in function.policy.statements]


def _principal_services(statement: dict[str, Any]) -> list[str]:
    principal = statement.get("Principal")
    if isinstance(principal, str):
        return [principal]
    if isinstance(principal, dict):
        service = principal.get("Service", [])
        return [service] if isinstance(service, str) else list(service)
    return []


def _source_arn_matches(statement: dict[str, Any], source_arn: str) -> bool:
    condition = statement.get("Condition", {})
    patterns = [
        value
        for operator in ("ArnLike", "ArnEquals", "StringEquals", "StringLike")
        for key, value in condition.get(operator, {}).items()
        if key.lower() == "aws:sourcearn"
    ]
    return not patterns or any(fnmatch.fnmatchcase(source_arn, pattern) for pattern in patterns)


def allows_invoke(
    function_name: str, region: str, account: str, principal: str, source_arn: str, *, when: float | None = None
) -> bool:
    """Would Lambda let `principal`, acting for `source_arn`, invoke the function (at virtual time `when`)?"""
    statements = policy_statements(function_name, region, account)
    if when is not None:
        removed = _REMOVED.get((account, region, function_name), [])
        statements += [statement for statement, removed_at in removed if removed_at > when]
    for statement in statements:
        if statement.get("Effect", "Allow") != "Allow":
            continue
        if principal not in _principal_services(statement) and statement.get("Principal") != "*":
            continue
        if statement.get("Action") not in ("lambda:InvokeFunction", "lambda:*"):
            continue
        if _source_arn_matches(statement, source_arn):
            return True
    return False


def events_permissions(function_name: str, region: str, account: str) -> list[dict[str, Any]]:
    """Statements the function added to let EventBridge invoke it: what a finished poll should have removed
    (the template's own grants are not leftovers)."""
    return [
        statement
        for statement in policy_statements(function_name, region, account)
        if EVENTS_PRINCIPAL in _principal_services(statement)
        and not str(statement.get("Sid", "")).startswith(template.TEMPLATE_STATEMENT_PREFIX)
    ]
