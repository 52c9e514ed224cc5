"""Structured logging (Powertools) that can never print CloudFormation's presigned ResponseURL.

The ResponseURL is a bearer secret: anyone holding it can answer for the stack. crhelper logs it at DEBUG, so its
logger is held at WARNING whatever level the template sets, and every record passes a filter that blanks the
current URL and anything shaped like a presigned-URL signature or credential.
"""

from __future__ import annotations

import logging
import os
import re
from typing import Any

from aws_lambda_powertools import Logger

SERVICE = "root-volume-replacement"
_PRESIGNED_PARTS = re.compile(
    r"(X-Amz-(?:Signature|Credential|Security-Token)|Signature|AWSAccessKeyId|x-amz-security-token)=[^&\s\"']+",
    re.IGNORECASE,
)
_HTTPS_URL = re.compile(r"https://[^\s\"']+\?[^\s\"']*")


class RedactSecrets(logging.Filter):
    """Blanks the current ResponseURL and any presigned query string in every record."""

    def __init__(self) -> None:
        super().__init__()
        self.secrets: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = self.redact(record.msg)
        if record.args:
            record.args = tuple(self.redact(a) for a in record.args) if isinstance(record.args, tuple) else record.args
        for key, value in list(record.__dict__.items()):
            if key not in ("msg", "args") and isinstance(value, str | dict | list):
                record.__dict__[key] = self.redact(value)
        return True

    def redact(self, value: Any) -> Any:
        if isinstance(value, str):
            for secret in self.secrets:
                value = value.replace(secret, "[ResponseURL redacted]")
            value = _HTTPS_URL.sub(lambda m: m.group(0).split("?", 1)[0] + "?[redacted]", value)
            return _PRESIGNED_PARTS.sub(lambda m: f"{m.group(1)}=[redacted]", value)
        if isinstance(value, dict):
            return {k: self.redact(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.redact(v) for v in value]
        return value


redactor = RedactSecrets()
logger = Logger(service=SERVICE, level=os.environ.get("POWERTOOLS_LOG_LEVEL", "INFO"))
# On the logger itself: runs before every handler, including ones added later (tests, extensions).
logging.getLogger(SERVICE).addFilter(redactor)


def protect_third_party_logs() -> None:
    """crhelper logs the whole event (ResponseURL included) at DEBUG: keep it and the SDK at WARNING or above."""
    for name in ("crhelper", "botocore", "boto3", "urllib3"):
        logging.getLogger(name).setLevel(logging.WARNING)
    root = logging.getLogger()
    for handler in root.handlers:
        if redactor not in handler.filters:
            handler.addFilter(redactor)
    if redactor not in root.filters:
        root.addFilter(redactor)


def start_request(event: dict[str, Any]) -> None:
    """Correlation keys for this request; remembers its ResponseURL so no record can contain it."""
    url = event.get("ResponseURL")
    if isinstance(url, str) and url:
        redactor.secrets.add(url)
    logger.remove_keys(["TaskId"])
    logger.append_keys(
        StackId=event.get("StackId"),
        LogicalResourceId=event.get("LogicalResourceId"),
        RequestId=event.get("RequestId"),
        RequestType=event.get("RequestType"),
    )
    task = (event.get("CrHelperData") or {}).get("TaskId") or (
        event.get("PhysicalResourceId") if str(event.get("PhysicalResourceId", "")).startswith("replacevol-") else None
    )
    if task:
        logger.append_keys(TaskId=task)
