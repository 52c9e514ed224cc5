"""Parse the resource's properties, once, at the edge, into a typed value.

CloudFormation delivers every scalar as a string ("true", "300"), so parsing is strict recasting: only
"true"/"false" (any case) are booleans, ids keep their string form and must look like ids, and anything we do not
know is an error naming the property and what is allowed. Nothing here calls AWS.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

INSTANCE_ID = re.compile(r"^i-(?:[0-9a-f]{8}|[0-9a-f]{17})$")
SNAPSHOT_ID = re.compile(r"^snap-(?:[0-9a-f]{8}|[0-9a-f]{17})$")
IMAGE_ID = re.compile(r"^ami-(?:[0-9a-f]{8}|[0-9a-f]{17})$")
VOLUME_ID = re.compile(r"^vol-(?:[0-9a-f]{8}|[0-9a-f]{17})$")

RATE_MIN, RATE_MAX = 100, 300
SERVICE_TIMEOUT_MIN, SERVICE_TIMEOUT_MAX, SERVICE_TIMEOUT_DEFAULT = 1, 3600, 3600
# EC2 allows 50 tags on a task; the resource keeps one of its own (see rules.RECORD_TAG_KEY).
MAX_TAGS = 49
MAX_TAG_KEY, MAX_TAG_VALUE = 127, 256
MAX_TRIGGER = 1024
RESERVED_TAG_PREFIX = "rootvolumereplacement:"

SOURCE_PROPERTIES = ("SnapshotId", "ImageId", "VolumeId")
ALLOWED_PROPERTIES = (
    "InstanceId",
    "SnapshotId",
    "ImageId",
    "VolumeId",
    "DeleteReplacedRootVolume",
    "VolumeInitializationRate",
    "Tags",
    "Trigger",
    "ServiceTimeout",
)
# Added by CloudFormation itself, not written by the user.
CLOUDFORMATION_PROPERTIES = ("ServiceToken",)


class InvalidProperties(ValueError):
    """The template asks for something the resource cannot do; the message is the stack event's Reason."""


class SourceKind(StrEnum):
    LAUNCH_STATE = "launch-state"
    SNAPSHOT = "snapshot"
    IMAGE = "image"
    VOLUME = "volume"


@dataclass(frozen=True)
class Source:
    kind: SourceKind
    id: str | None = None

    def describe(self) -> str:
        return "the launch state" if self.id is None else f"{self.kind.value} {self.id}"


@dataclass(frozen=True)
class Tag:
    key: str
    value: str


@dataclass(frozen=True)
class ReplacementRequest:
    instance_id: str
    source: Source
    delete_replaced_root_volume: bool = False
    volume_initialization_rate: int | None = None
    tags: tuple[Tag, ...] = ()
    trigger: str | None = None
    service_timeout: int = SERVICE_TIMEOUT_DEFAULT

    @property
    def tag_map(self) -> dict[str, str]:
        return {tag.key: tag.value for tag in self.tags}


def parse_properties(raw: Mapping[str, Any] | None) -> ReplacementRequest:
    """ResourceProperties -> ReplacementRequest, or InvalidProperties naming the first problem found."""
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        raise InvalidProperties("ResourceProperties must be a map of property names to values.")
    _reject_unknown(raw)
    instance_id = _required_id(raw, "InstanceId", INSTANCE_ID, "i-0123456789abcdef0")
    return ReplacementRequest(
        instance_id=instance_id,
        source=_source(raw),
        delete_replaced_root_volume=_boolean(raw, "DeleteReplacedRootVolume", default=False),
        volume_initialization_rate=_rate(raw),
        tags=_tags(raw),
        trigger=_trigger(raw),
        service_timeout=_service_timeout(raw),
    )


def service_timeout_or_default(raw: Mapping[str, Any] | None) -> int:
    """ServiceTimeout alone, for Delete: a malformed template must not stop a Delete from honouring it."""
    try:
        return _service_timeout(raw or {})
    except InvalidProperties:
        return SERVICE_TIMEOUT_DEFAULT


def _reject_unknown(raw: Mapping[str, Any]) -> None:
    for name in raw:
        if name in ALLOWED_PROPERTIES or name in CLOUDFORMATION_PROPERTIES:
            continue
        close = difflib.get_close_matches(str(name), ALLOWED_PROPERTIES, n=1, cutoff=0.6)
        if not close:
            close = [p for p in ALLOWED_PROPERTIES if p.lower() == str(name).lower()]
        hint = f" Did you mean {close[0]}?" if close else ""
        raise InvalidProperties(
            f"Unknown property {name!r}.{hint} Allowed properties: {', '.join(ALLOWED_PROPERTIES)}."
        )


def _string(raw: Mapping[str, Any], name: str) -> str | None:
    """A present property must be a non-empty string (CloudFormation stringifies scalars)."""
    if name not in raw:
        return None
    value = raw[name]
    if not isinstance(value, str):
        raise InvalidProperties(f"{name} must be a string, not a {_kind(value)}.")
    if value.strip() == "":
        raise InvalidProperties(f"{name} must not be empty; omit the property to leave it unset.")
    return value


def _required_id(raw: Mapping[str, Any], name: str, pattern: re.Pattern[str], example: str) -> str:
    value = _string(raw, name)
    if value is None:
        raise InvalidProperties(f"{name} is required: the id of the instance whose root volume is replaced.")
    return _checked_id(name, value, pattern, example)


def _checked_id(name: str, value: str, pattern: re.Pattern[str], example: str) -> str:
    if not pattern.match(value):
        prefix = example.split("-", maxsplit=1)[0]
        raise InvalidProperties(
            f"{name} {value!r} is not a valid id: expected {prefix}- followed by 8 or 17 lowercase hex digits, "
            f"like {example}."
        )
    return value


def _source(raw: Mapping[str, Any]) -> Source:
    given = [name for name in SOURCE_PROPERTIES if name in raw]
    if len(given) > 1:
        raise InvalidProperties(
            f"At most one of SnapshotId, ImageId and VolumeId may be set (got {' and '.join(given)}); "
            "set none to restore the launch state."
        )
    if not given:
        return Source(SourceKind.LAUNCH_STATE)
    name = given[0]
    value = _string(raw, name) or ""
    if name == "SnapshotId":
        return Source(SourceKind.SNAPSHOT, _checked_id(name, value, SNAPSHOT_ID, "snap-0123456789abcdef0"))
    if name == "ImageId":
        return Source(SourceKind.IMAGE, _checked_id(name, value, IMAGE_ID, "ami-0123456789abcdef0"))
    return Source(SourceKind.VOLUME, _checked_id(name, value, VOLUME_ID, "vol-0123456789abcdef0"))


def _boolean(raw: Mapping[str, Any], name: str, default: bool) -> bool:
    value = _string(raw, name)
    if value is None:
        return default
    lowered = value.lower()
    if lowered not in ("true", "false"):
        raise InvalidProperties(f"{name} must be true or false, not {value!r}.")
    return lowered == "true"


def _integer(raw: Mapping[str, Any], name: str, low: int, high: int, unit: str) -> int | None:
    value = _string(raw, name)
    if value is None:
        return None
    if not re.fullmatch(r"[0-9]+", value.strip()):
        raise InvalidProperties(f"{name} must be a whole number of {unit} from {low} to {high}, not {value!r}.")
    number = int(value)
    if not low <= number <= high:
        raise InvalidProperties(f"{name} must be from {low} to {high} {unit}, not {number}.")
    return number


def _rate(raw: Mapping[str, Any]) -> int | None:
    return _integer(raw, "VolumeInitializationRate", RATE_MIN, RATE_MAX, "MiB/s")


def _service_timeout(raw: Mapping[str, Any]) -> int:
    value = _integer(raw, "ServiceTimeout", SERVICE_TIMEOUT_MIN, SERVICE_TIMEOUT_MAX, "seconds")
    return SERVICE_TIMEOUT_DEFAULT if value is None else value


def _trigger(raw: Mapping[str, Any]) -> str | None:
    if "Trigger" not in raw:
        return None
    value = raw["Trigger"]
    if not isinstance(value, str):
        raise InvalidProperties(f"Trigger must be a string, not a {_kind(value)}.")
    if len(value) > MAX_TRIGGER:
        raise InvalidProperties(f"Trigger must be at most {MAX_TRIGGER} characters, not {len(value)}.")
    return value


def _tags(raw: Mapping[str, Any]) -> tuple[Tag, ...]:
    if "Tags" not in raw:
        return ()
    value = raw["Tags"]
    if not isinstance(value, list):
        raise InvalidProperties(f"Tags must be a list of {{Key, Value}} maps, not a {_kind(value)}.")
    if len(value) > MAX_TAGS:
        raise InvalidProperties(
            f"Tags may hold at most {MAX_TAGS} tags (EC2 allows 50 per task; the resource keeps one), not {len(value)}."
        )
    tags: list[Tag] = []
    seen: set[str] = set()
    for index, item in enumerate(value):
        where = f"Tags[{index}]"
        if not isinstance(item, Mapping):
            raise InvalidProperties(f"{where} must be a map with Key and Value, not a {_kind(item)}.")
        extra = sorted(set(item) - {"Key", "Value"})
        if extra:
            raise InvalidProperties(f"{where} has unknown field {extra[0]!r}: a tag has only Key and Value.")
        if "Key" not in item:
            raise InvalidProperties(f"{where} has no Key: each tag needs a Key (1-{MAX_TAG_KEY} characters).")
        key, tag_value = item["Key"], item.get("Value", "")
        if not isinstance(key, str) or not isinstance(tag_value, str):
            raise InvalidProperties(f"{where} Key and Value must be strings.")
        if not 1 <= len(key) <= MAX_TAG_KEY:
            raise InvalidProperties(f"{where}.Key must be 1-{MAX_TAG_KEY} characters, not {len(key)}.")
        if len(tag_value) > MAX_TAG_VALUE:
            raise InvalidProperties(f"{where}.Value must be at most {MAX_TAG_VALUE} characters, not {len(tag_value)}.")
        if key.lower().startswith("aws:"):
            raise InvalidProperties(f"{where}.Key {key!r} uses the reserved prefix aws:, which EC2 does not allow.")
        if key.lower().startswith(RESERVED_TAG_PREFIX):
            raise InvalidProperties(
                f"{where}.Key {key!r} uses the prefix {RESERVED_TAG_PREFIX}, which the resource keeps for itself."
            )
        if key in seen:
            raise InvalidProperties(f"{where}.Key {key!r} appears twice: tag keys must be unique.")
        seen.add(key)
        tags.append(Tag(key, tag_value))
    return tuple(tags)


def _kind(value: object) -> str:
    if isinstance(value, Mapping):
        return "map"
    if isinstance(value, list):
        return "list"
    return type(value).__name__
