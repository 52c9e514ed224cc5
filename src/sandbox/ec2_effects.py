"""What a finished replace-root-volume task does to moto's instances and volumes, and the root lineage it checks.

Effects are applied lazily: `settle_backend` runs before every EC2 request (and from `ec2_model.settle()`), and
applies each task whose timeline has reached its final state, in completion order. A describe right after the
task's end therefore already shows the new root volume.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from moto.ec2.exceptions import EC2ClientError

from .ec2_tasks import BackendState, Lineage, Task, state_of

_IOPS_TYPES = frozenset({"gp3", "io1", "io2"})


# -- lineage -----------------------------------------------------------------------------------------------
def adopt(backend: Any, instance: Any) -> Lineage:
    """The instance's lineage, recorded the first time we see it: its root then is its launch state."""
    state = state_of(backend)
    lineage = state.lineages.get(instance.id)
    if lineage is not None:
        return lineage
    root = instance.block_device_mapping.get(instance.root_device_name)
    launch_snapshot_id = None
    if root is not None:
        volume = backend.volumes.get(root.volume_id)
        if volume is not None and volume.snapshot_id in backend.snapshots:
            launch_snapshot_id = volume.snapshot_id
        elif volume is not None:
            # Launched without a snapshot (moto's default root): snapshot it now to stand for the launch state.
            launch_snapshot_id = backend.create_snapshot(volume.id, f"Launch state of {instance.id}").id
    lineage = Lineage(root_device_name=instance.root_device_name, launch_snapshot_id=launch_snapshot_id)
    if root is not None:
        lineage.root_volume_ids.add(root.volume_id)
    if launch_snapshot_id:
        lineage.snapshot_ids.add(launch_snapshot_id)
    state.lineages[instance.id] = lineage
    return lineage


def root_volume(backend: Any, instance: Any) -> Any | None:
    """The moto Volume at the instance's root device, or None (failed-detached, instance store)."""
    mapping = instance.block_device_mapping.get(instance.root_device_name)
    return backend.volumes.get(mapping.volume_id) if mapping is not None else None


def observe(backend: Any) -> None:
    """Track every instance, and any volume attached at its root device since (attach-volume counts too)."""
    for instance in backend.all_instances():
        lineage = adopt(backend, instance)
        volume = root_volume(backend, instance)
        if volume is not None:
            lineage.root_volume_ids.add(volume.id)


# -- settling ----------------------------------------------------------------------------------------------
def settle_backend(backend: Any) -> None:
    state = state_of(backend)
    observe(backend)
    now = time.time()
    pending = [task for task in state.tasks.values() if not task.effects_applied]
    pending.sort(key=lambda task: task.completed_at() or float("inf"))
    for task in pending:
        instance = _instance(backend, task.instance_id)
        if instance is None or instance.state != "running":
            # AWS-like choice: an instance stopped or terminated under a running task (it reboots the instance
            # as part of the swap) ends the task as failed, original root untouched.
            _force(task, "failed", min(now, task.completed_at() or now))
            continue
        final = task.state(now)
        if final == "succeeded":
            _succeed(backend, state, task, instance)
        elif final == "failed-detached":
            _detach_root(backend, instance)
            task.effects_applied = True
        elif final == "failed":
            task.effects_applied = True


def _force(task: Task, state: str, at: float) -> None:
    task.forced_state = state
    task.forced_at = at
    task.effects_applied = True


def _instance(backend: Any, instance_id: str) -> Any | None:
    try:
        return backend.get_instance(instance_id)
    except EC2ClientError:
        return None


def _detach_root(backend: Any, instance: Any) -> Any | None:
    device = instance.root_device_name
    mapping = instance.block_device_mapping.get(device)
    if mapping is None:
        return None
    backend.detach_volume(mapping.volume_id, instance.id, device)
    return mapping


def _succeed(backend: Any, state: BackendState, task: Task, instance: Any) -> None:
    request = task.request
    lineage = state.lineages[instance.id]
    old = root_volume(backend, instance)
    try:
        new = _replacement_volume(backend, task, instance, lineage, old)
    except _SourceGone:
        # The snapshot, AMI or volume disappeared (or the volume got attached) while the task ran.
        _force(task, "failed", task.completed_at() or time.time())
        return
    old_mapping = _detach_root(backend, instance)
    delete_on_termination = old_mapping.delete_on_termination if old_mapping is not None else True
    if old is not None and request.delete_replaced_root_volume:
        backend.delete_volume(old.id)
    attachment = backend.attach_volume(new.id, instance.id, instance.root_device_name, delete_on_termination)
    # Attached when the task finished, not when we noticed.
    attach_time = dt.datetime.fromtimestamp(task.completed_at() or time.time(), tz=dt.UTC).replace(tzinfo=None)
    attachment.attach_time = attach_time
    instance.block_device_mapping[instance.root_device_name].attach_time = attach_time
    lineage.root_volume_ids.add(new.id)
    if request.image_id:
        ami = backend.amis[request.image_id]
        instance.image_id = ami.id
        # The launch state follows the instance's AMI (choice: the docs do not say; ImageId is what changes).
        lineage.launch_snapshot_id = ami.ebs_snapshot.id
        lineage.snapshot_ids.add(ami.ebs_snapshot.id)
    task.effects_applied = True


class _SourceGone(Exception):
    pass


def _replacement_volume(backend: Any, task: Task, instance: Any, lineage: Lineage, old: Any | None) -> Any:
    request = task.request
    if request.volume_id:
        volume = backend.volumes.get(request.volume_id)
        if volume is None or volume.attachment is not None:
            raise _SourceGone
        return volume
    if request.image_id:
        ami = backend.amis.get(request.image_id)
        if ami is None:
            raise _SourceGone
        snapshot_id = ami.ebs_snapshot.id
    else:
        snapshot_id = request.snapshot_id or lineage.launch_snapshot_id
    snapshot = backend.snapshots.get(snapshot_id)
    if snapshot is None:
        raise _SourceGone
    # Same type as the old root; the size of the old root unless the source is larger (an AMI may be).
    size = max(old.size if old is not None else 0, snapshot.volume.size)
    volume_type = old.volume_type if old is not None else "gp2"
    return backend.create_volume(
        size=size,
        zone_name=instance.placement.zone,
        snapshot_id=snapshot.id,
        encrypted=bool(snapshot.encrypted or (old is not None and old.encrypted)),
        kms_key_id=snapshot.kms_key_id or (old.kms_key_id if old is not None else None),
        volume_type=volume_type,
        iops=old.iops if old is not None and volume_type in _IOPS_TYPES else None,
        throughput=old.throughput if old is not None and volume_type == "gp3" else None,
    )
