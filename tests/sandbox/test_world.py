"""The world builder gives instances whose root volume, AMI and launch snapshot agree, as on AWS."""

from __future__ import annotations

from sandbox.world import make_image, make_instance, make_volume, root_volume_of, snapshot_root


def test_an_instance_root_comes_from_its_ami_at_the_root_device(ec2):
    ids = make_instance(ec2, architecture="arm64", az="us-east-1b", root_size=12)
    instance = ec2.describe_instances(InstanceIds=[ids.instance_id])["Reservations"][0]["Instances"][0]
    image = ec2.describe_images(ImageIds=[ids.image_id])["Images"][0]
    root = ec2.describe_volumes(VolumeIds=[ids.root_volume_id])["Volumes"][0]

    assert (instance["ImageId"], instance["Architecture"], instance["State"]["Name"]) == (
        ids.image_id,
        "arm64",
        "running",
    )
    assert instance["RootDeviceName"] == image["RootDeviceName"] == "/dev/xvda"
    assert root_volume_of(ec2, ids.instance_id) == ids.root_volume_id
    assert image["BlockDeviceMappings"][0]["Ebs"]["SnapshotId"] == ids.launch_snapshot_id == root["SnapshotId"]
    assert (root["Size"], root["AvailabilityZone"], root["VolumeType"]) == (12, "us-east-1b", "gp3")


def test_instances_in_other_states(ec2):
    for state in ("stopped", "terminated"):
        ids = make_instance(ec2, state=state)
        instance = ec2.describe_instances(InstanceIds=[ids.instance_id])["Reservations"][0]["Instances"][0]
        assert instance["State"]["Name"] == state


def test_images_snapshots_and_volumes(ec2):
    image = ec2.describe_images(ImageIds=[make_image(ec2, architecture="arm64", root_size=30)])["Images"][0]
    assert (image["Architecture"], image["VirtualizationType"], image["RootDeviceType"]) == ("arm64", "hvm", "ebs")
    assert image["BlockDeviceMappings"][0]["Ebs"]["VolumeSize"] == 30

    ids = make_instance(ec2)
    snapshot = ec2.describe_snapshots(SnapshotIds=[snapshot_root(ec2, ids.instance_id)])["Snapshots"][0]
    assert snapshot["VolumeId"] == ids.root_volume_id
    restored = ec2.describe_volumes(VolumeIds=[make_volume(ec2, from_snapshot=snapshot["SnapshotId"])])["Volumes"][0]
    assert (restored["SnapshotId"], restored["State"]) == (snapshot["SnapshotId"], "available")
    blank = ec2.describe_volumes(VolumeIds=[make_volume(ec2, az="us-east-1c", size=4)])["Volumes"][0]
    assert (blank["Size"], blank["AvailabilityZone"]) == (4, "us-east-1c")


def test_create_image_from_an_instance_snapshots_its_real_root(ec2):
    ids = make_instance(ec2)
    image_id = ec2.create_image(InstanceId=ids.instance_id, Name="golden")["ImageId"]
    image = ec2.describe_images(ImageIds=[image_id])["Images"][0]
    snapshot_id = image["BlockDeviceMappings"][0]["Ebs"]["SnapshotId"]
    assert ec2.describe_snapshots(SnapshotIds=[snapshot_id])["Snapshots"][0]["VolumeId"] == ids.root_volume_id
