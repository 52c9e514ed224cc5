"""CreateReplaceRootVolumeTask's checks, in the order EC2 makes them, with EC2's codes and wording.

Syntax first (nothing looked up), then DryRun, then the idempotency token, then the instance and the source.
"""

from __future__ import annotations

import re
from typing import Any

from moto.ec2.exceptions import EC2ClientError

from .ec2_effects import adopt, root_volume
from .ec2_tasks import Request, state_of

_ID = r"-(?:[0-9a-f]{8}|[0-9a-f]{17})"
_INSTANCE_ID = re.compile(rf"i{_ID}")
_SNAPSHOT_ID = re.compile(rf"snap{_ID}")
_IMAGE_ID = re.compile(rf"ami{_ID}")
_VOLUME_ID = re.compile(rf"vol{_ID}")
MIN_RATE, MAX_RATE = 100, 300
MAX_TOKEN_LENGTH = 64


def error(code: str, message: str) -> EC2ClientError:
    return EC2ClientError(code, message)


def parse_create(get: Any) -> tuple[Request, str | None]:
    """The request and its ClientToken, or the syntax error EC2 answers before looking anything up."""
    instance_id = get("InstanceId")
    if not instance_id:
        raise error("MissingParameter", "The request must contain the parameter InstanceId")
    if not _INSTANCE_ID.fullmatch(instance_id):
        raise error("InvalidInstanceID.Malformed", f'Invalid id: "{instance_id}"')
    snapshot_id, image_id, volume_id = get("SnapshotId"), get("ImageId"), get("VolumeId")
    given = [
        name for name, value in (("SnapshotId", snapshot_id), ("ImageId", image_id), ("VolumeId", volume_id)) if value
    ]
    if len(given) > 1:
        raise error(
            "InvalidParameterCombination",
            f"You can specify only one of SnapshotId, ImageId or VolumeId, but you specified {' and '.join(given)}.",
        )
    if snapshot_id and not _SNAPSHOT_ID.fullmatch(snapshot_id):
        raise error("InvalidSnapshotID.Malformed", f'Invalid id: "{snapshot_id}" (expecting "snap-...")')
    if image_id and not _IMAGE_ID.fullmatch(image_id):
        raise error("InvalidAMIID.Malformed", f'Invalid id: "{image_id}" (expecting "ami-...")')
    if volume_id and not _VOLUME_ID.fullmatch(volume_id):
        raise error("InvalidVolumeID.Malformed", f'Invalid id: "{volume_id}" (expecting "vol-...")')
    rate = get("VolumeInitializationRate")
    if rate is not None and not MIN_RATE <= int(rate) <= MAX_RATE:
        raise error(
            "InvalidParameterValue",
            f"Value ({rate}) for parameter volumeInitializationRate is invalid. "
            f"Valid range is {MIN_RATE} to {MAX_RATE} MiB/s.",
        )
    token = get("ClientToken")
    if token is not None and (len(token) > MAX_TOKEN_LENGTH or not token.isascii()):
        raise error(
            "InvalidParameterValue",
            f"Value ({token}) for parameter clientToken is invalid. "
            f"It must be at most {MAX_TOKEN_LENGTH} ASCII characters.",
        )
    return (
        Request(
            instance_id=instance_id,
            snapshot_id=snapshot_id or None,
            image_id=image_id or None,
            volume_id=volume_id or None,
            delete_replaced_root_volume=bool(get("DeleteReplacedRootVolume", False)),
            volume_initialization_rate=int(rate) if rate is not None else None,
            tags=_tags(get("TagSpecifications", []) or []),
        ),
        token,
    )


def _tags(specifications: list[dict[str, Any]]) -> tuple[tuple[str, str], ...]:
    tags: list[tuple[str, str]] = []
    for spec in specifications:
        resource_type = spec.get("ResourceType")
        if not resource_type:
            raise error("InvalidParameterValue", "Tag specification resource type must have a value")
        if resource_type != "replace-root-volume-task":
            raise error(
                "InvalidParameterValue", f"'{resource_type}' is not a valid taggable resource type for this operation."
            )
        for tag in spec.get("Tags", []) or []:
            key = tag.get("Key", "")
            if key.lower().startswith("aws:"):
                raise error("InvalidParameterValue", "Tag keys starting with 'aws:' are reserved for internal use")
            tags.append((key, tag.get("Value", "")))
    return tuple(tags)


def check_token(backend: Any, request: Request, token: str | None) -> str | None:
    """The id of the task this token already started, or None; a reused token with new parameters fails."""
    if token is None:
        return None
    state = state_of(backend)
    task_id = state.tokens.get(token)
    if task_id is None:
        return None
    if state.tasks[task_id].request != request:
        raise error(
            "IdempotentParameterMismatch",
            "The client token you have provided is associated with a resource that is already deleted or has "
            "different parameters. Please use a different client token.",
        )
    return task_id


def check_feasible(backend: Any, request: Request) -> None:
    """Every check that needs the instance, the source, or the tasks already running."""
    instance = _instance(backend, request.instance_id)
    if instance.state != "running":
        raise error(
            "IncorrectInstanceState",
            f"The instance '{instance.id}' is not in the 'running' state (it is '{instance.state}').",
        )
    if instance.root_device_type != "ebs":
        raise error("UnsupportedOperation", f"The instance '{instance.id}' does not have an EBS root volume.")
    lineage = adopt(backend, instance)
    current = root_volume(backend, instance)
    for task in state_of(backend).tasks.values():
        if task.instance_id == instance.id and not task.is_final:
            raise error(
                "IncorrectState",
                f"The instance '{instance.id}' already has a root volume replacement task "
                f"'{task.id}' in the '{task.state()}' state.",
            )
    if current is None and request.volume_id is None and lineage.launch_snapshot_id is None:
        raise error("UnsupportedOperation", f"The instance '{instance.id}' does not have an EBS root volume.")
    if request.snapshot_id:
        snapshot = backend.snapshots.get(request.snapshot_id)
        if snapshot is None:
            raise error("InvalidSnapshot.NotFound", f"The snapshot '{request.snapshot_id}' does not exist.")
        if not lineage.holds(snapshot):
            raise error(
                "InvalidParameterValue",
                f"The snapshot '{snapshot.id}' was not created from the root volume of instance '{instance.id}'.",
            )
    elif request.image_id:
        _check_image(backend, instance, current, request.image_id)
    elif request.volume_id:
        _check_volume(backend, instance, request.volume_id)


def _instance(backend: Any, instance_id: str) -> Any:
    try:
        return backend.get_instance(instance_id)
    except EC2ClientError as missing:
        raise error("InvalidInstanceID.NotFound", f"The instance ID '{instance_id}' does not exist") from missing


def _check_image(backend: Any, instance: Any, current: Any | None, image_id: str) -> None:
    if image_id in backend.deleted_amis:
        raise error("InvalidAMIID.Unavailable", f"The image id '[{image_id}]' is no longer available")
    ami = backend.amis.get(image_id)
    if ami is None:
        raise error("InvalidAMIID.NotFound", f"The image id '[{image_id}]' does not exist")
    if ami.state != "available":
        raise error("InvalidAMIID.Unavailable", f"The image id '[{image_id}]' is not available (it is '{ami.state}')")
    mismatch = _first_mismatch(ami, instance)
    if mismatch:
        raise error(
            "InvalidParameterValue",
            f"The AMI '{image_id}' does not match the instance '{instance.id}': {mismatch}.",
        )
    ami_size = ami.ebs_snapshot.volume.size
    if current is not None and ami_size < current.size:
        raise error(
            "InvalidParameterValue",
            f"The root volume of AMI '{image_id}' ({ami_size} GiB) is smaller than the instance's current root "
            f"volume ({current.size} GiB).",
        )


def _first_mismatch(ami: Any, instance: Any) -> str | None:
    if ami.root_device_type == "instance-store":
        return "the AMI is instance store-backed"
    for attribute, label in (
        ("architecture", "architecture"),
        ("virtualization_type", "virtualization type"),
        ("platform", "platform"),
    ):
        ours, theirs = getattr(ami, attribute), getattr(instance, attribute)
        # moto leaves some of these unset on instances launched from unknown AMIs: compare what is known.
        if ours and theirs and ours != theirs:
            return f"{label} '{ours}' differs from the instance's '{theirs}'"
    if set(ami.product_codes) != set(instance.product_codes):
        return "product codes differ"
    return None


def _check_volume(backend: Any, instance: Any, volume_id: str) -> None:
    volume = backend.volumes.get(volume_id)
    if volume is None:
        raise error("InvalidVolume.NotFound", f"The volume '{volume_id}' does not exist.")
    if volume.attachment is not None:
        raise error("VolumeInUse", f"{volume_id} is already attached to an instance")
    if volume.availability_zone != instance.placement.zone:
        raise error(
            "InvalidParameterValue",
            f"The volume '{volume_id}' is in {volume.availability_zone}, but instance '{instance.id}' is in "
            f"{instance.placement.zone}.",
        )
