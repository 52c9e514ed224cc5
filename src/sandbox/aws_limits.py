"""Input limits AWS enforces on the calls crhelper's polling makes, which moto 5.2.5 does not.

The limits come from botocore's service models (the same constraints the services validate server-side):
EventBridge `RuleName` 1-64 chars of `[\\.\\-_A-Za-z0-9]+`, `TargetInput` at most 8192 chars; Lambda
AddPermission `StatementId` 1-100 chars of `([a-zA-Z0-9-_]+)` (no dot, unlike RemovePermission's
`NamespacedStatementId`, which allows `.`). Both services answer with the Coral framework's
`ValidationException` and a message such as
"1 validation error detected: Value 'x' at 'name' failed to satisfy constraint: Member must have length less
than or equal to 64" (seen in crhelper issue #61 and in many public reports for `statementId`).

`install()` wraps moto's backend methods, so the check runs before moto's own logic, exactly where AWS
rejects the request: a long LogicalResourceId makes crhelper's `_put_rule` fail here as in production.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from moto.awslambda.exceptions import LambdaClientError
from moto.awslambda.models import LambdaBackend
from moto.core.exceptions import JsonRESTError
from moto.events.models import EventsBackend

RULE_NAME_MAX = 64
RULE_NAME_PATTERN = r"[\.\-_A-Za-z0-9]+"
TARGET_INPUT_MAX = 8192
STATEMENT_ID_MAX = 100
ADD_PERMISSION_STATEMENT_ID_PATTERN = r"([a-zA-Z0-9-_]+)"
REMOVE_PERMISSION_STATEMENT_ID_PATTERN = r"([a-zA-Z0-9-_.]+)"

# Patched once per process; `enabled` switches the checks (functools.wraps copies attributes onto any later
# wrapper, so markers on the functions themselves cannot tell whose wrapper is whose).
_state = {"installed": False, "enabled": False}


@dataclass(frozen=True)
class Violation:
    """One failed constraint, worded as AWS words it."""

    value: str
    path: str
    constraint: str

    def render(self) -> str:
        return f"Value '{self.value}' at '{self.path}' failed to satisfy constraint: {self.constraint}"


def check_string(value: str, path: str, *, max_length: int, pattern: str | None = None) -> list[Violation]:
    violations = []
    if len(value) > max_length:
        violations.append(Violation(value, path, f"Member must have length less than or equal to {max_length}"))
    if len(value) < 1:
        violations.append(Violation(value, path, "Member must have length greater than or equal to 1"))
    if pattern is not None and value and re.fullmatch(pattern, value) is None:
        violations.append(Violation(value, path, f"Member must satisfy regular expression pattern: {pattern}"))
    return violations


def validation_message(violations: list[Violation]) -> str:
    count = len(violations)
    noun = "error" if count == 1 else "errors"
    return f"{count} validation {noun} detected: " + "; ".join(v.render() for v in violations)


def _raise_if_any(violations: list[Violation]) -> None:
    if violations and _state["enabled"]:
        raise JsonRESTError("ValidationException", validation_message(violations))


def rule_name_violations(name: str) -> list[Violation]:
    return check_string(name, "name", max_length=RULE_NAME_MAX, pattern=RULE_NAME_PATTERN)


def target_violations(targets: list[dict[str, Any]]) -> list[Violation]:
    violations: list[Violation] = []
    for index, target in enumerate(targets, start=1):
        target_input = target.get("Input")
        if isinstance(target_input, str):
            # AWS echoes the whole value, secrets included: a handler that logs this error leaks the event.
            violations += check_string(target_input, f"targets.{index}.member.input", max_length=TARGET_INPUT_MAX)
    return violations


def add_permission_violations(statement_id: str) -> list[Violation]:
    return check_string(
        statement_id, "statementId", max_length=STATEMENT_ID_MAX, pattern=ADD_PERMISSION_STATEMENT_ID_PATTERN
    )


def remove_permission_violations(statement_id: str) -> list[Violation]:
    return check_string(
        statement_id, "statementId", max_length=STATEMENT_ID_MAX, pattern=REMOVE_PERMISSION_STATEMENT_ID_PATTERN
    )


# -- the patches ------------------------------------------------------------------------------------------
def _put_rule(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def put_rule(self: EventsBackend, name: str, *args: Any, **kwargs: Any) -> Any:
        _raise_if_any(rule_name_violations(name))
        return original(self, name, *args, **kwargs)

    return put_rule


def _put_targets(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def put_targets(self: EventsBackend, name: str, event_bus_arn: str | None, targets: list[dict[str, Any]]) -> Any:
        # PutTargets names the rule too, and AWS validates it with the same RuleName shape.
        _raise_if_any(rule_name_violations(name) + target_violations(targets))
        return original(self, name, event_bus_arn, targets)

    return put_targets


def _add_permission(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def add_permission(self: LambdaBackend, function_name: str, qualifier: str, raw: str) -> Any:
        statement_id = json.loads(raw).get("StatementId")
        if isinstance(statement_id, str):
            _raise_if_any(add_permission_violations(statement_id))
            _raise_if_statement_exists(self, function_name, qualifier, statement_id)
        return original(self, function_name, qualifier, raw)

    return add_permission


class _ResourceConflict(LambdaClientError):  # type: ignore[misc]  # moto is untyped here
    code = 409

    def __init__(self, message: str) -> None:
        super().__init__("ResourceConflictException", message)


def _raise_if_statement_exists(backend: LambdaBackend, function_name: str, qualifier: str, statement_id: str) -> None:
    """Lambda refuses a second statement with the same id; moto appends it, so removing one would leave the other."""
    try:
        function = backend.get_function(function_name, qualifier or None)
    except Exception:
        return  # the original call reports the missing function
    policy = getattr(function, "policy", None)
    statements = getattr(policy, "statements", []) or []
    if any(statement.get("Sid") == statement_id for statement in statements):
        raise _ResourceConflict(
            f"The statement id ({statement_id}) provided already exists. Please provide a new statement id, "
            "or remove the existing statement."
        )


def _remove_permission(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def remove_permission(self: LambdaBackend, function_name: str, sid: str, revision: str = "") -> Any:
        _raise_if_any(remove_permission_violations(sid))
        return original(self, function_name, sid, revision)

    return remove_permission


_PATCHES: list[tuple[type, str, Callable[[Callable[..., Any]], Callable[..., Any]]]] = [
    (EventsBackend, "put_rule", _put_rule),
    (EventsBackend, "put_targets", _put_targets),
    (LambdaBackend, "add_permission", _add_permission),
    (LambdaBackend, "remove_permission", _remove_permission),
]


def install() -> None:
    """Patch moto's backends (once) and enforce the limits; safe to call any number of times."""
    if not _state["installed"]:
        for owner, attribute, wrap in _PATCHES:
            setattr(owner, attribute, wrap(getattr(owner, attribute)))
        _state["installed"] = True
    _state["enabled"] = True


def uninstall() -> None:
    """Stop enforcing (for tests that show what moto alone would accept); install() enforces again."""
    _state["enabled"] = False


def installed() -> bool:
    return _state["installed"] and _state["enabled"]
