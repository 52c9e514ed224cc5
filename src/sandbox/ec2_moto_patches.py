"""Where moto's EC2 differs from AWS in ways the replace-root-volume model depends on, made closer to AWS.

- An instance's default root volume is created from its AMI's root snapshot at the AMI's root device name (moto
  attaches an 8 GiB blank volume at /dev/sda1 whatever RootDeviceName says, so the root cannot be found).
- RegisterImage honours Architecture, VirtualizationType, RootDeviceName and the root BlockDeviceMapping's
  snapshot; CreateImage's root snapshot is a snapshot of the instance's actual root volume; DescribeImages
  reports the root snapshot's real size.
- `replacevol-` ids are taggable (moto rejects the prefix), as resource type `replace-root-volume-task`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from moto.ec2 import utils as ec2_utils
from moto.ec2.exceptions import EC2ClientError
from moto.ec2.models import EC2Backend
from moto.ec2.models.amis import Ami
from moto.ec2.models.instances import Instance
from moto.ec2.responses import EC2Response

from .ec2_tasks import state_of

TASK_PREFIX = "replacevol"
TASK_RESOURCE_TYPE = "replace-root-volume-task"
_ROOT_VOLUME_TYPE = "_sandbox_root_volume_type"


def install() -> None:
    ec2_utils.EC2_RESOURCE_TO_PREFIX[TASK_RESOURCE_TYPE] = TASK_PREFIX
    ec2_utils.EC2_PREFIX_TO_RESOURCE[TASK_PREFIX] = TASK_RESOURCE_TYPE
    _wrap(EC2Backend, "do_resources_exist", _do_resources_exist)
    _wrap(Instance, "setup_defaults", _setup_defaults)
    _wrap(EC2Response, "register_image", _register_image)
    _wrap(EC2Response, "create_image", _create_image)
    if not isinstance(Ami.__dict__["block_device_mappings"], _RootSizedMappings):
        Ami.block_device_mappings = _RootSizedMappings(_ami_block_device_mappings)


class _RootSizedMappings(property):
    """Ami.block_device_mappings reporting the root snapshot's size (a distinct type keeps install idempotent)."""


def _wrap(owner: type, name: str, replacement: Callable[..., Any]) -> None:
    """owner.name = replacement(original, *args), once."""
    original = getattr(owner, name)
    if getattr(original, "_sandbox_original", None) is not None:
        return

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return replacement(original, *args, **kwargs)

    wrapper._sandbox_original = original  # type: ignore[attr-defined]
    wrapper.__name__ = name
    setattr(owner, name, wrapper)


def _do_resources_exist(original: Callable[..., bool], backend: Any, resource_ids: list[str]) -> bool:
    for resource_id in resource_ids:
        if resource_id.startswith(TASK_PREFIX + "-") and resource_id not in state_of(backend).tasks:
            raise EC2ClientError(
                "InvalidReplaceRootVolumeTaskId.NotFound",
                f"The replace root volume task ID '{resource_id}' does not exist",
            )
    return original(backend, resource_ids)


def _setup_defaults(original: Callable[[Any], None], instance: Any) -> None:
    backend = instance.ec2_backend
    ami = backend.amis.get(instance.image_id)
    if ami is None:
        original(instance)
        return
    if ami.root_device_type == "instance-store":
        instance.root_device_type = "instance-store"
        return
    snapshot = ami.ebs_snapshot
    volume = backend.create_volume(
        size=snapshot.volume.size,
        zone_name=instance.placement.zone,
        snapshot_id=snapshot.id,
        encrypted=snapshot.encrypted,
        volume_type=getattr(ami, _ROOT_VOLUME_TYPE, "gp2"),
    )
    backend.attach_volume(volume.id, instance.id, instance.root_device_name, True)


def _register_image(original: Callable[[Any], Any], response: Any) -> Any:
    result = original(response)
    backend = response.ec2_backend
    ami = backend.amis[result.result["ImageId"]]
    # RegisterImage's documented defaults: i386, paravirtual.
    ami.architecture = response._get_param("Architecture") or "i386"
    ami.virtualization_type = response._get_param("VirtualizationType") or "paravirtual"
    ami.root_device_name = response._get_param("RootDeviceName") or ami.root_device_name
    for mapping in response._get_param("BlockDeviceMappings", []):
        ebs = mapping.get("Ebs") or {}
        if mapping.get("DeviceName") != ami.root_device_name or not ebs.get("SnapshotId"):
            continue
        _replace_root_snapshot(backend, ami, backend.get_snapshot(ebs["SnapshotId"]))
        ami.root_device_type = "ebs"
        if ebs.get("VolumeType"):
            setattr(ami, _ROOT_VOLUME_TYPE, ebs["VolumeType"])
    return result


def _create_image(original: Callable[[Any], Any], response: Any) -> Any:
    result = original(response)
    backend = response.ec2_backend
    ami = backend.amis[result.result["ImageId"]]
    instance = backend.get_instance(response._get_param("InstanceId"))
    mapping = instance.block_device_mapping.get(instance.root_device_name)
    if mapping is not None:
        description = f"Created by CreateImage({instance.id}) for {ami.id}"
        snapshot = backend.create_snapshot(mapping.volume_id, description, from_ami=ami.id)
        _replace_root_snapshot(backend, ami, snapshot)
        ami.root_device_name = instance.root_device_name
        ami.root_device_type = "ebs"
    return result


def _replace_root_snapshot(backend: Any, ami: Any, snapshot: Any) -> None:
    auto = ami.ebs_snapshot
    if auto.id != snapshot.id and auto.from_ami == ami.id:
        backend.snapshots.pop(auto.id, None)  # moto's placeholder snapshot of a throwaway volume
    ami.ebs_snapshot = snapshot


def _ami_block_device_mappings(ami: Any) -> list[dict[str, Any]]:
    return [
        {
            "DeviceName": ami.root_device_name,
            "Ebs": {
                "SnapshotId": ami.ebs_snapshot.id,
                "VolumeSize": ami.ebs_snapshot.volume.size,
                "DeleteOnTermination": True,
                "VolumeType": getattr(ami, _ROOT_VOLUME_TYPE, "standard"),
            },
        }
    ]
