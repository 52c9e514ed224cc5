"""Account-level API rate limits as token buckets in virtual time, enforced where moto answers botocore.

EC2 throttles per account and region, with one token bucket per API action: describe-type actions hold 100
tokens and refill 20 per second, mutating actions hold 50 and refill 5 per second (EC2 API reference,
"Request throttling"). An empty bucket answers HTTP 503 `RequestLimitExceeded`, before the request reaches the
service, exactly as EC2 does. EventBridge's control-plane APIs (PutRule, PutTargets, DescribeRule, ...) are
limited to 50 requests per second per account by default; modelled here with a 50-token bucket.

Like `sandbox.aws_calls`, the hook wraps moto's `BotocoreStubber.__call__` (the `before-send` handler every
client already holds), so clients created before `install()` are throttled too. It is off until a policy is set.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from moto.core.botocore_stubber import BotocoreStubber, MockRawResponse


@dataclass
class TokenBucket:
    capacity: float
    refill_per_second: float
    tokens: float = -1.0  # full when first used
    updated_at: float | None = None

    def take(self, now: float) -> bool:
        if self.updated_at is None:
            self.tokens, self.updated_at = self.capacity, now
        elapsed = max(0.0, now - self.updated_at)
        self.tokens = min(self.capacity, self.tokens + elapsed * self.refill_per_second)
        self.updated_at = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


@dataclass(frozen=True)
class BucketSize:
    capacity: float
    refill_per_second: float


EC2_DESCRIBE = BucketSize(100, 20)
EC2_MUTATING = BucketSize(50, 5)
EVENTS_CONTROL_PLANE = BucketSize(50, 50)


def ec2_bucket_size(operation: str) -> BucketSize:
    """Describe-type (Describe*, Get*) or mutating: the two EC2 categories this resource's calls fall in."""
    return EC2_DESCRIBE if operation.startswith(("Describe", "Get")) else EC2_MUTATING


@dataclass
class ThrottlePolicy:
    """Which calls are rate-limited and how; counts what was admitted and what was throttled, per operation."""

    ec2: bool = True
    events: bool = True
    buckets: dict[tuple[str, str], TokenBucket] = field(default_factory=dict)
    admitted: Counter[tuple[str, str]] = field(default_factory=Counter)
    throttled: Counter[tuple[str, str]] = field(default_factory=Counter)
    # Optional observer of every throttled call: (service, operation, virtual time).
    on_throttle: Callable[[str, str, float], None] | None = None

    def _size(self, service: str, operation: str) -> BucketSize | None:
        if service == "ec2" and self.ec2:
            return ec2_bucket_size(operation)
        if service == "events" and self.events:
            return EVENTS_CONTROL_PLANE
        return None

    def admit(self, service: str, operation: str, now: float) -> bool:
        size = self._size(service, operation)
        if size is None:
            return True
        # EventBridge's 50/s is one budget for the whole control plane; EC2's buckets are per action.
        key = (service, "*") if service == "events" else (service, operation)
        bucket = self.buckets.get(key)
        if bucket is None:
            bucket = self.buckets[key] = TokenBucket(size.capacity, size.refill_per_second)
        if bucket.take(now):
            self.admitted[(service, operation)] += 1
            return True
        self.throttled[(service, operation)] += 1
        if self.on_throttle is not None:
            self.on_throttle(service, operation, now)
        return False


_state: dict[str, Any] = {"policy": None, "installed": False}
_lock = threading.Lock()
_SERVICE_IDS = {"ec2": "ec2", "eventbridge": "events"}
_THROTTLE_WIRE = {
    "ec2": (
        503,
        {"Content-Type": "text/xml;charset=UTF-8"},
        '<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>RequestLimitExceeded</Code>'
        "<Message>Request limit exceeded.</Message></Error></Errors><RequestID>{rid}</RequestID></Response>",
    ),
    "events": (
        400,
        {"Content-Type": "application/x-amz-json-1.1"},
        '{{"__type": "ThrottlingException", "message": "Rate exceeded"}}',
    ),
}


def install(policy: ThrottlePolicy) -> ThrottlePolicy:
    """Enforce `policy` from now on (the hook is added once per process)."""
    with _lock:
        if not _state["installed"]:
            original = BotocoreStubber.__call__

            def __call__(self: Any, event_name: str, request: AWSPreparedRequest, **kwargs: Any) -> AWSResponse | None:
                if self.enabled:
                    refused = _refuse(event_name, request)
                    if refused is not None:
                        return refused
                return original(self, event_name, request, **kwargs)  # type: ignore[no-any-return]

            BotocoreStubber.__call__ = __call__
            _state["installed"] = True
        _state["policy"] = policy
    return policy


def uninstall() -> None:
    """Stop throttling (the hook stays, inert)."""
    with _lock:
        _state["policy"] = None


def _refuse(event_name: str, request: AWSPreparedRequest) -> AWSResponse | None:
    policy: ThrottlePolicy | None = _state["policy"]
    if policy is None:
        return None
    # event_name is "before-send.<hyphenized service id>.<Operation>"
    _, _, rest = event_name.partition(".")
    service_id, _, operation = rest.rpartition(".")
    service = _SERVICE_IDS.get(service_id)
    if service is None or policy.admit(service, operation, time.time()):
        return None
    status, headers, body = _THROTTLE_WIRE[service]
    return AWSResponse(request.url, status, dict(headers), MockRawResponse(body.format(rid=uuid.uuid4())))  # type: ignore[arg-type]
