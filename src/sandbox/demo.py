"""`make demo`: one readable life of a Custom::RootVolumeReplacement, through the real handler, offline.

Create from the launch state, Update to a snapshot, a tags-only Update, an Update whose replacement fails, and the
Delete; each step prints its timeline in virtual time and the answer CloudFormation got.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import Any

from sandbox import ec2_model, world
from sandbox.driver import StackResource, final_body
from sandbox.ec2_timeline import Timeline
from sandbox.lambda_runtime import RunResult
from sandbox.session import Sandbox


def _show(title: str, result: RunResult, sb: Sandbox, instance_id: str) -> dict[str, Any]:
    answer = final_body(result) or {}
    print(f"\n== {title}")
    print(result.render())
    print(
        f"   CloudFormation got: {answer.get('Status', 'nothing')}  "
        f"PhysicalResourceId={answer.get('PhysicalResourceId')}"
    )
    if answer.get("Reason"):
        print(f"   Reason: {answer['Reason']}")
    for key, value in (answer.get("Data") or {}).items():
        print(f"     {key:<26} {value}")
    print(f"   instance {instance_id} root volume now: {world.root_volume_of(sb.ec2, instance_id)}")
    return answer


def main(argv: list[str] | None = None) -> int:
    verbose = "--verbose" in (argv or [])
    wall = time.perf_counter()
    with Sandbox() as sb:
        instance = world.make_instance(sb.ec2)
        print(f"Sandbox: instance {instance.instance_id} (root {instance.root_volume_id}, image {instance.image_id})")
        resource = StackResource(sb)  # loads the handler, which sets its own log level
        if not verbose:  # the function's JSON logs; --verbose shows them
            logging.getLogger("root-volume-replacement").setLevel(logging.CRITICAL)
        tags = [{"Key": "team", "Value": "platform"}]

        ec2_model.set_timeline(instance.instance_id, Timeline(pending_seconds=3, in_progress_seconds=17))
        created = _show(
            "Create: restore the launch state (a 20 s replacement)",
            resource.create({"InstanceId": instance.instance_id, "Tags": tags}),
            sb,
            instance.instance_id,
        )

        snapshot = world.snapshot_root(sb.ec2, instance.instance_id)
        ec2_model.set_timeline(instance.instance_id, Timeline(pending_seconds=5, in_progress_seconds=160))
        _show(
            f"Update: restore from snapshot {snapshot} (a 165 s replacement, waited for with crhelper's polls)",
            resource.update({"InstanceId": instance.instance_id, "SnapshotId": snapshot, "Tags": tags}),
            sb,
            instance.instance_id,
        )

        retagged = [{"Key": "team", "Value": "storage"}, {"Key": "ticket", "Value": "OPS-42"}]
        _show(
            "Update: tags only (same task, nothing replaced)",
            resource.update({"InstanceId": instance.instance_id, "SnapshotId": snapshot, "Tags": retagged}),
            sb,
            instance.instance_id,
        )

        ec2_model.set_timeline(
            instance.instance_id,
            Timeline(pending_seconds=5, in_progress_seconds=40, failing_seconds=10, outcome="failed"),
        )
        failed = _show(
            "Update: a new Trigger, and EC2's replacement fails",
            resource.update(
                {"InstanceId": instance.instance_id, "SnapshotId": snapshot, "Tags": retagged, "Trigger": "again"}
            ),
            sb,
            instance.instance_id,
        )

        deleted = _show("Delete: nothing is undone or deleted", resource.delete(), sb, instance.instance_id)

    ok = created.get("Status") == "SUCCESS" and failed.get("Status") == "FAILED" and deleted.get("Status") == "SUCCESS"
    print(
        f"\nDemo {'finished as expected' if ok else 'did NOT behave as expected'} "
        f"in {time.perf_counter() - wall:.1f} s wall time."
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
