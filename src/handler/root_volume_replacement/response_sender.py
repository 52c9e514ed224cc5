"""The one PUT to CloudFormation's ResponseURL: checked, size-limited, bounded, and never logged.

CloudFormation accepts a body of at most 4096 bytes and shows Reason in the stack's events, so the beginning of
a Reason (what failed, on which task and instance) is what must survive a cut.
"""

from __future__ import annotations

import json
import os
import re
import ssl
import time
from http.client import HTTPSConnection
from typing import Any
from urllib.parse import urlsplit

from .logs import logger

MAX_BODY_BYTES = 4096
MAX_REASON_CHARS = 1024
MIN_REASON_CHARS = 200
TRUNCATED = " [truncated]"
ATTEMPTS = 5
CONNECT_AND_READ_TIMEOUT = 10.0
# CloudFormation's response bucket: https, an S3 endpoint of AWS (global, regional, FIPS, dualstack or China).
_S3_HOST = re.compile(r"^(?:[a-z0-9.-]+\.)?s3[a-z0-9.-]*\.amazonaws\.com(?:\.cn)?$")
ALLOWED_HOSTS_ENV = "RESPONSE_URL_ALLOWED_HOSTS"  # exact extra hosts, for the offline sandbox only


class ResponseUrlRejected(ValueError):
    pass


def check_url(url: str) -> tuple[str, str]:
    """(host with port, path with query) of an acceptable ResponseURL; the error never repeats the URL."""
    parts = urlsplit(url)
    if parts.scheme != "https":
        raise ResponseUrlRejected(f"ResponseURL must use https, not {parts.scheme or 'no scheme'}")
    host = (parts.hostname or "").lower()
    extra = {h.strip().lower() for h in os.environ.get(ALLOWED_HOSTS_ENV, "").split(",") if h.strip()}
    if not (_S3_HOST.match(host) or host in extra):
        raise ResponseUrlRejected("ResponseURL host is not an Amazon S3 endpoint")
    return parts.netloc, parts.path + ("?" + parts.query if parts.query else "")


def fit(body: dict[str, Any]) -> bytes:
    """Serialise within 4096 bytes: shorten Reason from its end, then drop attributes if it still does not fit."""
    body = dict(body)
    reason = str(body.get("Reason") or "")
    if len(reason) > MAX_REASON_CHARS:
        reason = reason[: MAX_REASON_CHARS - len(TRUNCATED)] + TRUNCATED
    body["Reason"] = reason
    encoded = json.dumps(body).encode()
    keep = len(reason)
    while len(encoded) > MAX_BODY_BYTES and keep > MIN_REASON_CHARS:
        # JSON may spend up to 6 bytes on one character; cut by the excess and look again.
        keep = max(MIN_REASON_CHARS, keep - (len(encoded) - MAX_BODY_BYTES) - len(TRUNCATED))
        body["Reason"] = reason[:keep] + TRUNCATED
        encoded = json.dumps(body).encode()
    data = dict(body.get("Data") or {})
    while len(encoded) > MAX_BODY_BYTES and data:
        data.pop(max(data, key=lambda k: len(json.dumps(data[k]))))
        body["Data"] = data
        encoded = json.dumps(body).encode()
    return encoded


def send(url: str, body: dict[str, Any], deadline: float | None = None) -> bool:
    """PUT the response; True once CloudFormation's bucket answered 2xx. Bounded attempts, never raises."""
    try:
        host, path = check_url(url)
    except ResponseUrlRejected as rejected:
        logger.error("Response not sent: %s", rejected, extra={"status": body.get("Status")})
        return False
    payload = fit(body)
    context = ssl.create_default_context()
    for attempt in range(1, ATTEMPTS + 1):
        status: int | str
        try:
            connection = HTTPSConnection(host, timeout=CONNECT_AND_READ_TIMEOUT, context=context)
            try:
                connection.request(
                    "PUT", path, body=payload, headers={"Content-Type": "", "Content-Length": str(len(payload))}
                )
                status = connection.getresponse().status
            finally:
                connection.close()
        except (OSError, ValueError) as error:
            status = type(error).__name__
        if isinstance(status, int) and 200 <= status < 300:
            logger.info(
                "Response delivered",
                extra={"status": body.get("Status"), "http_status": status, "attempt": attempt, "bytes": len(payload)},
            )
            return True
        backoff = float(2 ** (attempt - 1))
        logger.warning("Response not accepted", extra={"http_status": status, "attempt": attempt})
        if attempt == ATTEMPTS or (deadline is not None and time.time() + backoff > deadline):
            break
        time.sleep(backoff)
    logger.error(
        "Response could not be delivered; CloudFormation will wait for ServiceTimeout",
        extra={
            "status": body.get("Status"),
            "reason": body.get("Reason"),
            "physical_id": body.get("PhysicalResourceId"),
        },
    )
    return False
