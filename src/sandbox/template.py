"""Read the function's settings (Timeout, MemorySize) from the SAM template the project deploys.

The sandbox must time the handler out exactly where Lambda would, so it reads the deployed value rather than
keeping a copy. template.yaml uses CloudFormation's short tags (!Ref, !Sub, !GetAtt ...), which a plain YAML
loader rejects; the loader here keeps each tagged node as {"Fn::Name" or "Ref": value}.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_PATH = REPO_ROOT / "template.yaml"
LAMBDA_DEFAULT_TIMEOUT = 3.0  # what Lambda uses when the template sets no Timeout at all
LAMBDA_DEFAULT_MEMORY = 128
FALLBACK_TIMEOUT = 90.0  # before template.yaml exists
_FUNCTION_TYPES = ("AWS::Serverless::Function", "AWS::Lambda::Function")


class _CloudFormationLoader(yaml.SafeLoader):
    """SafeLoader that accepts CloudFormation's intrinsic-function tags."""


def _intrinsic(loader: yaml.SafeLoader, tag_suffix: str, node: yaml.Node) -> dict[str, Any]:
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    key = "Ref" if tag_suffix == "Ref" else f"Fn::{tag_suffix}"
    return {key: value}


_CloudFormationLoader.add_multi_constructor("!", _intrinsic)  # type: ignore[no-untyped-call]


def load_template(path: Path = TEMPLATE_PATH) -> dict[str, Any] | None:
    if not path.exists():
        return None
    # A SafeLoader subclass (it only adds constructors for !Ref, !Sub...): safe despite bandit's B506.
    loaded = yaml.load(path.read_text(encoding="utf-8"), Loader=_CloudFormationLoader)  # noqa: S506  # nosec B506
    return loaded if isinstance(loaded, dict) else None


def _resolve(template: dict[str, Any], value: Any) -> Any:
    """Resolve a `Ref` to a template parameter's Default; other values pass through."""
    if isinstance(value, dict) and set(value) == {"Ref"}:
        parameter = template.get("Parameters", {}).get(value["Ref"], {})
        if "Default" not in parameter:
            raise ValueError(f"template.yaml: cannot resolve {value!r} without a parameter default")
        return parameter["Default"]
    return value


def _function_properties(template: dict[str, Any], logical_id: str | None) -> dict[str, Any]:
    functions = {
        name: resource
        for name, resource in template.get("Resources", {}).items()
        if isinstance(resource, dict) and resource.get("Type") in _FUNCTION_TYPES
    }
    if logical_id is not None and logical_id in functions:
        chosen = functions[logical_id]
    elif len(functions) == 1:
        chosen = next(iter(functions.values()))
    else:
        return {}
    properties = chosen.get("Properties", {})
    return properties if isinstance(properties, dict) else {}


def _setting(template: dict[str, Any], logical_id: str | None, name: str) -> Any:
    properties = _function_properties(template, logical_id)
    if name in properties:
        return _resolve(template, properties[name])
    globals_ = template.get("Globals", {}).get("Function", {})
    if name in globals_:
        return _resolve(template, globals_[name])
    return None


def function_timeout(logical_id: str | None = None, path: Path = TEMPLATE_PATH) -> float:
    template = load_template(path)
    if template is None:
        return FALLBACK_TIMEOUT
    value = _setting(template, logical_id, "Timeout")
    return LAMBDA_DEFAULT_TIMEOUT if value is None else float(value)


def function_memory(logical_id: str | None = None, path: Path = TEMPLATE_PATH) -> int:
    template = load_template(path)
    value = None if template is None else _setting(template, logical_id, "MemorySize")
    return LAMBDA_DEFAULT_MEMORY if value is None else int(value)


TEMPLATE_STATEMENT_PREFIX = "template-"  # Sid of a statement the template creates, not the function at run time


def _substitute(value: Any, *, region: str, account: str, partition: str = "aws") -> Any:
    """Resolve the pseudo parameters in a `Ref` or `Fn::Sub` string (what a Lambda permission's ARN uses)."""
    pseudo = {"AWS::Region": region, "AWS::AccountId": account, "AWS::Partition": partition}
    if isinstance(value, dict) and set(value) == {"Ref"}:
        return pseudo.get(value["Ref"], value)
    if isinstance(value, dict) and set(value) == {"Fn::Sub"} and isinstance(value["Fn::Sub"], str):
        text = value["Fn::Sub"]
        for name, resolved in pseudo.items():
            text = text.replace("${" + name + "}", resolved)
        return text
    return value


def invoke_permissions(
    function_arn: str, *, region: str, account: str, path: Path = TEMPLATE_PATH
) -> list[dict[str, Any]]:
    """The function's resource-based policy statements that the template creates (AWS::Lambda::Permission), as
    Lambda stores them. CloudFormation adds them when the stack is deployed, before any request arrives."""
    template = load_template(path)
    if template is None:
        return []
    statements = []
    for logical_id, resource in template.get("Resources", {}).items():
        if not isinstance(resource, dict) or resource.get("Type") != "AWS::Lambda::Permission":
            continue
        properties = resource.get("Properties", {})
        condition: dict[str, dict[str, str]] = {}
        source_arn = _substitute(properties.get("SourceArn"), region=region, account=account)
        if isinstance(source_arn, str):
            condition["ArnLike"] = {"AWS:SourceArn": source_arn}
        source_account = _substitute(properties.get("SourceAccount"), region=region, account=account)
        if isinstance(source_account, str):
            condition["StringEquals"] = {"AWS:SourceAccount": source_account}
        statement: dict[str, Any] = {
            "Sid": f"{TEMPLATE_STATEMENT_PREFIX}{logical_id}",
            "Effect": "Allow",
            "Principal": {"Service": properties.get("Principal")},
            "Action": properties.get("Action"),
            "Resource": function_arn,
        }
        if condition:
            statement["Condition"] = condition
        statements.append(statement)
    return statements
