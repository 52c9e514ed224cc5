"""Build EC2 worlds for tests and the demo, through the EC2 API only (as a user would), inside `mock_aws`."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any, Literal

from . import ec2_model

InstanceState = Literal["running", "stopped", "terminated"]
ROOT_DEVICE = "/dev/xvda"
_names = itertools.count(1)


@dataclass(frozen=True)
class InstanceIds:
    instance_id: str
    root_volume_id: str
    image_id: str
    launch_snapshot_id: str  # the AMI's root snapshot: what a launch-state restore restores


def make_image(
    ec2: Any, *, architecture: str = "x86_64", root_size: int = 8, az: str = "us-east-1a", volume_type: str = "gp3"
) -> str:
    """Register an EBS-backed HVM AMI whose root snapshot is `root_size` GiB; returns its id."""
    ec2_model.install()
    volume_id = ec2.create_volume(AvailabilityZone=az, Size=root_size, VolumeType=volume_type)["VolumeId"]
    snapshot_id = ec2.create_snapshot(VolumeId=volume_id, Description="AMI root")["SnapshotId"]
    ec2.delete_volume(VolumeId=volume_id)
    image: dict[str, Any] = ec2.register_image(
        Name=f"sandbox-{architecture}-{next(_names)}",
        Architecture=architecture,
        VirtualizationType="hvm",
        RootDeviceName=ROOT_DEVICE,
        BlockDeviceMappings=[
            {
                "DeviceName": ROOT_DEVICE,
                "Ebs": {
                    "SnapshotId": snapshot_id,
                    "VolumeSize": root_size,
                    "VolumeType": volume_type,
                    "DeleteOnTermination": True,
                },
            }
        ],
    )
    return str(image["ImageId"])


def make_instance(
    ec2: Any,
    *,
    architecture: str = "x86_64",
    state: InstanceState = "running",
    az: str = "us-east-1a",
    image_id: str | None = None,
    root_size: int = 8,
) -> InstanceIds:
    """One instance launched from `image_id` (or a fresh AMI of `architecture`), left in `state`."""
    ec2_model.install()
    image_id = image_id or make_image(ec2, architecture=architecture, root_size=root_size, az=az)
    instance = ec2.run_instances(
        ImageId=image_id, MinCount=1, MaxCount=1, InstanceType="t3.micro", Placement={"AvailabilityZone": az}
    )["Instances"][0]
    instance_id: str = instance["InstanceId"]
    root_volume_id = root_volume_of(ec2, instance_id)
    if root_volume_id is None:
        raise RuntimeError(f"{instance_id} has no root volume: is the AMI instance store-backed?")
    launch_snapshot_id: str = ec2.describe_volumes(VolumeIds=[root_volume_id])["Volumes"][0]["SnapshotId"]
    if state == "stopped":
        ec2.stop_instances(InstanceIds=[instance_id])
    elif state == "terminated":
        ec2.terminate_instances(InstanceIds=[instance_id])
    return InstanceIds(instance_id, root_volume_id, image_id, launch_snapshot_id)


def root_volume_of(ec2: Any, instance_id: str) -> str | None:
    """The volume at the instance's root device now (DescribeInstances), or None when it has none."""
    instance = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]
    for mapping in instance.get("BlockDeviceMappings", []):
        if mapping["DeviceName"] == instance["RootDeviceName"]:
            return str(mapping["Ebs"]["VolumeId"])
    return None


def snapshot_root(ec2: Any, instance_id: str) -> str:
    """A snapshot of the instance's current root volume: in its root-volume lineage."""
    volume_id = root_volume_of(ec2, instance_id)
    if volume_id is None:
        raise ValueError(f"{instance_id} has no root volume to snapshot")
    return str(ec2.create_snapshot(VolumeId=volume_id, Description=f"root of {instance_id}")["SnapshotId"])


def make_volume(ec2: Any, *, az: str = "us-east-1a", from_snapshot: str | None = None, size: int | None = None) -> str:
    """An available (unattached) gp3 volume, blank (`size` GiB, default 8) or restored from `from_snapshot`."""
    params: dict[str, Any] = {"AvailabilityZone": az, "VolumeType": "gp3"}
    if from_snapshot:
        params["SnapshotId"] = from_snapshot
    if size is not None or not from_snapshot:
        params["Size"] = size or 8
    return str(ec2.create_volume(**params)["VolumeId"])
