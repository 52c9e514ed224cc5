"""Custom-resource requests built the way CloudFormation builds them.

CloudFormation turns every scalar in a custom resource's properties into a string (`true` -> "true",
`300` -> "300") while lists and maps keep their shape; it adds the ServiceToken to the properties, gives each
request a fresh RequestId and a fresh presigned ResponseURL, sends PhysicalResourceId on Update and Delete and
the previous properties as OldResourceProperties on Update. A handler tested with hand-written events that
carry real booleans or numbers would pass here and fail in production, so every event goes through this.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from sandbox.response_endpoint import ResponseEndpoint

DEFAULT_RESOURCE_TYPE = "Custom::RootVolumeReplacement"
_LOGICAL_ID = re.compile(r"^[A-Za-z0-9]{1,255}$")
_STACK_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,127}$")


def stringify(value: Any) -> Any:
    """A property value as CloudFormation delivers it: scalars become strings, containers keep their shape."""
    if isinstance(value, bool):  # before int: bool is an int
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, dict):
        return {str(key): stringify(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [stringify(item) for item in value]
    if value is None:
        raise ValueError("CloudFormation property values cannot be null")
    raise TypeError(f"not a template value: {value!r}")


class CloudFormationStack:
    """One stack that sends custom-resource requests to a function (the ServiceToken)."""

    def __init__(
        self,
        stack_name: str,
        endpoint: ResponseEndpoint,
        service_token: str,
        region: str = "us-east-1",
        account: str = "123456789012",
    ) -> None:
        if not _STACK_NAME.match(stack_name):
            raise ValueError(f"invalid stack name {stack_name!r}")
        self.stack_name = stack_name
        self.endpoint = endpoint
        self.service_token = service_token
        self.region = region
        self.account = account
        self.stack_id = f"arn:aws:cloudformation:{region}:{account}:stack/{stack_name}/{uuid.uuid4()}"
        self._resource_types: dict[str, str] = {}

    def create(
        self, logical_id: str, properties: dict[str, Any], resource_type: str = DEFAULT_RESOURCE_TYPE
    ) -> dict[str, Any]:
        self._resource_types[logical_id] = resource_type
        return self._request("Create", logical_id, properties, resource_type)

    def update(
        self,
        logical_id: str,
        physical_id: str,
        properties: dict[str, Any],
        old_properties: dict[str, Any],
        resource_type: str | None = None,
    ) -> dict[str, Any]:
        kind = resource_type or self._resource_types.get(logical_id, DEFAULT_RESOURCE_TYPE)
        return self._request(
            "Update", logical_id, properties, kind, physical_id=physical_id, old_properties=old_properties
        )

    def delete(
        self, logical_id: str, physical_id: str, properties: dict[str, Any], resource_type: str | None = None
    ) -> dict[str, Any]:
        kind = resource_type or self._resource_types.get(logical_id, DEFAULT_RESOURCE_TYPE)
        return self._request("Delete", logical_id, properties, kind, physical_id=physical_id)

    def _properties(self, properties: dict[str, Any]) -> dict[str, Any]:
        delivered = {"ServiceToken": self.service_token}
        delivered.update({key: stringify(value) for key, value in properties.items() if key != "ServiceToken"})
        return delivered

    def _request(
        self,
        request_type: str,
        logical_id: str,
        properties: dict[str, Any],
        resource_type: str,
        *,
        physical_id: str | None = None,
        old_properties: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        if not _LOGICAL_ID.match(logical_id):
            raise ValueError(f"CloudFormation rejects the logical id {logical_id!r}: alphanumeric, at most 255")
        request_id = str(uuid.uuid4())
        event: dict[str, Any] = {
            "RequestType": request_type,
            "ServiceToken": self.service_token,
            "ResponseURL": self.endpoint.url_for(request_id, stack_id=self.stack_id, logical_id=logical_id),
            "StackId": self.stack_id,
            "RequestId": request_id,
            "LogicalResourceId": logical_id,
            "ResourceType": resource_type,
            "ResourceProperties": self._properties(properties),
        }
        if physical_id is not None:
            if not physical_id or len(physical_id.encode()) > 1024:
                raise ValueError("a PhysicalResourceId is non-empty and at most 1 KB")
            event["PhysicalResourceId"] = physical_id
        if old_properties is not None:
            event["OldResourceProperties"] = self._properties(old_properties)
        return event
