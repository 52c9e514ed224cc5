"""A process-wide log of every AWS call boto3 makes under moto, and injected faults for any operation.

The hook wraps moto's `BotocoreStubber.__call__` (the `before-send` handler moto registers in botocore's
BUILTIN_HANDLERS when it is imported). Patching the class rather than adding our own handler means clients
created before `install()` are seen too: every client's event emitter already holds moto's one stubber
instance. Each HTTP attempt is one call, so botocore's retries show up as repeated entries.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from typing import Any, Literal
from urllib.parse import parse_qsl, urlsplit

import botocore.session
from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from botocore.exceptions import UnknownServiceError
from botocore.model import ServiceModel
from moto.core.botocore_stubber import BotocoreStubber, MockRawResponse

FaultKind = Literal["throttle", "server_error"]

MUTATING_EC2_OPERATIONS = frozenset(
    {
        "CreateReplaceRootVolumeTask",
        "CreateTags",
        "DeleteTags",
        "RunInstances",
        "StartInstances",
        "StopInstances",
        "RebootInstances",
        "TerminateInstances",
        "ModifyInstanceAttribute",
        "CreateVolume",
        "DeleteVolume",
        "AttachVolume",
        "DetachVolume",
        "ModifyVolume",
        "CreateSnapshot",
        "CreateSnapshots",
        "CopySnapshot",
        "DeleteSnapshot",
        "CreateImage",
        "CopyImage",
        "RegisterImage",
        "DeregisterImage",
    }
)


@dataclass(frozen=True)
class AwsCall:
    service: str  # botocore's service name: 'ec2', 'events', 'lambda'
    operation: str  # 'CreateReplaceRootVolumeTask'
    params: dict[str, Any]  # the form body (query protocols, flattened) or JSON body, plus the query string
    at: float  # time.time() when the attempt was sent: virtual under VirtualClock
    faulted: bool = False
    url_path: str = ""  # rest-json services (Lambda) carry identifiers in the path, not the body


@dataclass
class _Fault:
    kind: FaultKind
    remaining: int


@dataclass(frozen=True)
class _ErrorWire:
    status: int
    code: str
    message: str


@dataclass
class _State:
    lock: threading.Lock = field(default_factory=threading.Lock)
    calls: list[AwsCall] = field(default_factory=list)
    faults: dict[tuple[str, str], _Fault] = field(default_factory=dict)


_state = _State()
_installed: list[Callable[..., Any]] = []  # the original __call__, once installed

# What each service answers when it throttles or fails, as AWS sends it (status, code).
_THROTTLE: dict[str, tuple[int, str, str]] = {
    "ec2": (503, "RequestLimitExceeded", "Request limit exceeded."),
    "events": (400, "ThrottlingException", "Rate exceeded"),
    "lambda": (429, "TooManyRequestsException", "Rate exceeded"),
    "s3": (503, "SlowDown", "Please reduce your request rate."),
}
_SERVER_ERROR: dict[str, tuple[int, str, str]] = {
    "ec2": (500, "InternalError", "An internal error has occurred."),
    "events": (500, "InternalException", "An internal error occurred."),
    "lambda": (500, "ServiceException", "The AWS Lambda service encountered an internal error."),
    "s3": (500, "InternalError", "We encountered an internal error. Please try again."),
}
_PROTOCOL_THROTTLE = {"query": (400, "Throttling", "Rate exceeded")}
_DEFAULT_THROTTLE = (400, "ThrottlingException", "Rate exceeded")
_DEFAULT_SERVER_ERROR = (500, "InternalFailure", "The request processing has failed because of an unknown error.")


def install() -> None:
    """Start logging (idempotent). The log and faults only see calls while moto's mock is active."""
    if _installed:
        return
    original = BotocoreStubber.__call__
    _installed.append(original)

    def __call__(self: Any, event_name: str, request: AWSPreparedRequest, **kwargs: Any) -> AWSResponse | None:
        if not self.enabled:
            return original(self, event_name, request, **kwargs)  # type: ignore[no-any-return]
        response = _intercept(event_name, request)
        if response is not None:
            return response
        return original(self, event_name, request, **kwargs)  # type: ignore[no-any-return]

    BotocoreStubber.__call__ = __call__


def reset() -> None:
    with _state.lock:
        _state.calls.clear()
        _state.faults.clear()


def calls() -> list[AwsCall]:
    with _state.lock:
        return list(_state.calls)


def ec2_mutations() -> list[AwsCall]:
    return [c for c in calls() if c.service == "ec2" and c.operation in MUTATING_EC2_OPERATIONS]


def inject_fault(service: str, operation: str, kind: FaultKind, times: int = 1) -> None:
    """The next `times` attempts of service/operation fail: throttled or with a 5xx, in that service's format."""
    if kind not in ("throttle", "server_error"):
        raise ValueError(f"unknown fault kind {kind!r}")
    install()
    with _state.lock:
        _state.faults[(service, operation)] = _Fault(kind, times)


# -- the hook ----------------------------------------------------------------------------------------------
def _intercept(event_name: str, request: AWSPreparedRequest) -> AWSResponse | None:
    # event_name is "before-send.<hyphenized service id>.<Operation>"
    _, _, rest = event_name.partition(".")
    service_id, _, operation = rest.rpartition(".")
    service = _service_name(service_id, (urlsplit(request.url).hostname or "").split(".")[0])
    fault = _take_fault(service, operation)
    call = AwsCall(
        service=service,
        operation=operation,
        params=_params(request),
        at=time.time(),
        faulted=fault is not None,
        url_path=urlsplit(request.url).path,
    )
    with _state.lock:
        _state.calls.append(call)
    if fault is None:
        return None
    return _fault_response(service, request.url, fault)


def _take_fault(service: str, operation: str) -> FaultKind | None:
    with _state.lock:
        fault = _state.faults.get((service, operation))
        if fault is None or fault.remaining <= 0:
            return None
        fault.remaining -= 1
        if fault.remaining == 0:
            del _state.faults[(service, operation)]
        return fault.kind


@cache
def _model(service: str) -> ServiceModel | None:
    try:
        return botocore.session.get_session().get_service_model(service)
    except UnknownServiceError:
        return None


@cache
def _service_name(hyphenized_id: str, host_label: str) -> str:
    # The event carries the service *id* ("eventbridge"); callers know services by name ("events"), which is
    # usually the endpoint's first label.
    for candidate in (hyphenized_id, host_label):
        model = _model(candidate) if candidate else None
        if model is not None and model.service_id.hyphenize() == hyphenized_id:
            return candidate
    return hyphenized_id


def _params(request: AWSPreparedRequest) -> dict[str, Any]:
    params: dict[str, Any] = dict(parse_qsl(urlsplit(request.url).query, keep_blank_values=True))
    body = request.body
    if isinstance(body, bytes):
        try:
            body = body.decode("utf-8")
        except UnicodeDecodeError:
            return params
    if not isinstance(body, str) or not body:
        return params
    content_type = str(request.headers.get("Content-Type", ""))
    if "x-www-form-urlencoded" in content_type:
        params.update(parse_qsl(body, keep_blank_values=True))
    elif "json" in content_type or body.lstrip().startswith("{"):
        try:
            decoded = json.loads(body)
        except ValueError:
            return params
        if isinstance(decoded, dict):
            params.update(decoded)
    return params


def _fault_response(service: str, url: str, kind: FaultKind) -> AWSResponse:
    model = _model(service)
    protocol = model.protocol if model is not None else "json"
    table, default = (_THROTTLE, _DEFAULT_THROTTLE) if kind == "throttle" else (_SERVER_ERROR, _DEFAULT_SERVER_ERROR)
    if kind == "throttle" and service not in table:
        default = _PROTOCOL_THROTTLE.get(protocol, default)
    wire = _ErrorWire(*table.get(service, default))
    status, headers, body = _render(protocol, model, wire)
    return AWSResponse(url, status, headers, MockRawResponse(body))  # type: ignore[arg-type]


def _render(protocol: str, model: ServiceModel | None, wire: _ErrorWire) -> tuple[int, dict[str, str], str]:
    request_id = str(uuid.uuid4())
    if protocol == "ec2":
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error>'
            f"<Code>{wire.code}</Code><Message>{wire.message}</Message>"
            f"</Error></Errors><RequestID>{request_id}</RequestID></Response>"
        )
        return wire.status, {"Content-Type": "text/xml;charset=UTF-8"}, body
    if protocol == "query":
        fault = "Sender" if wire.status < 500 else "Receiver"
        body = (
            f"<ErrorResponse><Error><Type>{fault}</Type><Code>{wire.code}</Code>"
            f"<Message>{wire.message}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>"
        )
        return wire.status, {"Content-Type": "text/xml", "x-amzn-RequestId": request_id}, body
    if protocol == "rest-xml":
        body = (
            f"<Error><Code>{wire.code}</Code><Message>{wire.message}</Message>"
            f"<RequestId>{request_id}</RequestId></Error>"
        )
        return wire.status, {"Content-Type": "application/xml", "x-amz-request-id": request_id}, body
    if protocol == "rest-json":
        payload = {"Type": "User" if wire.status < 500 else "Service", "message": wire.message}
        headers = {"Content-Type": "application/json", "x-amzn-ErrorType": wire.code, "x-amzn-RequestId": request_id}
        return wire.status, headers, json.dumps(payload)
    version = model.metadata.get("jsonVersion", "1.1") if model is not None else "1.1"
    headers = {"Content-Type": f"application/x-amz-json-{version}", "x-amzn-RequestId": request_id}
    return wire.status, headers, json.dumps({"__type": wire.code, "message": wire.message})
