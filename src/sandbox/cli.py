"""`python -m sandbox invoke EVENT_FILE`: one CloudFormation request through the handler, offline.

The local stand-in for `sam local invoke` that also runs crhelper's polling: it builds an EC2 world (a running
instance, a snapshot of its root volume, an AMI of the same architecture, a spare volume), fills the event
file's placeholders (${InstanceId}, ${SnapshotId}, ${ImageId}, ${VolumeId}; ${TaskId} or
${PhysicalResourceId} from a setup Create), sends the request as CloudFormation would, and prints what
happened in virtual time. Exit status: 0 when CloudFormation got SUCCESS, 1 on FAILED or no answer, 2 on bad
input.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import importlib.util
import io
import json
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from sandbox.lambda_runtime import Invocation, RunResult
from sandbox.session import DEFAULT_HANDLER, Sandbox
from sandbox.template import REPO_ROOT

DEMO_EVENT = REPO_ROOT / "events" / "create-launch-state.json"
_PLACEHOLDER = re.compile(r"\$\{([A-Za-z]+)\}")
_SETUP_PLACEHOLDERS = ("TaskId", "PhysicalResourceId")
EXIT_SUCCESS, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    """The event file cannot be run as given."""


def _ensure_import_paths() -> None:
    """Lambda puts the handler's directory on sys.path; the repository root makes tests.* importable."""
    for path in (REPO_ROOT / "src" / "handler", REPO_ROOT):
        if str(path) not in sys.path:
            sys.path.append(str(path))


def fill(value: Any, names: dict[str, str]) -> Any:
    """Replace every ${Name} known in `names`, in every string of a JSON value."""
    if isinstance(value, str):
        return _PLACEHOLDER.sub(lambda match: names.get(match.group(1), match.group(0)), value)
    if isinstance(value, dict):
        return {key: fill(item, names) for key, item in value.items()}
    if isinstance(value, list):
        return [fill(item, names) for item in value]
    return value


def unfilled(value: Any) -> set[str]:
    return set(_PLACEHOLDER.findall(json.dumps(value)))


def task_timeline(total_seconds: float, outcome: str) -> Any:
    """Split a task's total duration into the model's phases: a short pending, the rest in progress."""
    from sandbox.ec2_model import Timeline  # noqa: PLC0415 (written alongside; imported inside the sandbox)

    pending = min(10.0, total_seconds / 10)
    failing = 0.0 if outcome == "succeeded" else min(30.0, total_seconds / 5)
    return Timeline(
        pending_seconds=pending,
        in_progress_seconds=max(0.0, total_seconds - pending - failing),
        failing_seconds=failing,
        outcome=outcome,  # type: ignore[arg-type]
    )


def build_world(ec2: Any) -> dict[str, str]:
    from sandbox import world  # noqa: PLC0415

    instance = world.make_instance(ec2, architecture="x86_64")
    snapshot_id = world.snapshot_root(ec2, instance.instance_id)
    return {
        "InstanceId": instance.instance_id,
        "SnapshotId": snapshot_id,
        "ImageId": world.make_image(ec2, architecture="x86_64"),
        "VolumeId": world.make_volume(ec2, from_snapshot=snapshot_id),
        "LaunchSnapshotId": instance.launch_snapshot_id,
        "RootVolumeId": instance.root_volume_id,
    }


def _task_states(instance_id: str) -> Callable[[Invocation], list[str]]:
    from sandbox import ec2_model  # noqa: PLC0415

    def report(_invocation: Invocation) -> list[str]:
        return [f"{task.id} {task.state()}" for task in ec2_model.tasks() if task.instance_id == instance_id]

    return report


def _print_result(result: RunResult, out: TextIO, *, show_logs: bool) -> None:
    print(result.render(), file=out)
    print(f"\n{len(result.invocations)} invocations ({len(result.polls)} polls), ", end="", file=out)
    print(f"{result.virtual_seconds:.0f} virtual seconds; {result.stopped_because}", file=out)
    if result.leftover_rules or result.leftover_permissions:
        print(f"left behind: rules {result.leftover_rules}, {len(result.leftover_permissions)} permissions", file=out)
    if show_logs:
        print("\nfunction logs:", file=out)
        for line in result.logs:
            print(f"  {line}", file=out)
    response = result.response
    print("\nCloudFormation received:", file=out)
    if response is None:
        print("  no accepted response: the resource fails when ServiceTimeout runs out", file=out)
        return
    for name in ("Status", "Reason", "PhysicalResourceId"):
        print(f"  {name}: {response.field(name)}", file=out)
    print(f"  Data: {json.dumps(response.field('Data'), sort_keys=True)}", file=out)
    extra = len(result.responses) - 1
    if extra > 0:
        print(f"  (and {extra} more response(s) for the same request)", file=out)


def invoke(
    event_file: Path,
    *,
    task_seconds: float = 60.0,
    outcome: str = "succeeded",
    handler: str = DEFAULT_HANDLER,
    duplicate_polls: bool = False,
    show_logs: bool = False,
    out: TextIO = sys.stdout,
) -> int:
    try:
        template_event = json.loads(event_file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise UsageError(f"cannot read {event_file}: {error}") from error
    if not isinstance(template_event, dict) or template_event.get("RequestType") not in ("Create", "Update", "Delete"):
        raise UsageError(f"{event_file}: not a CloudFormation custom-resource request")
    _ensure_import_paths()
    with Sandbox() as sandbox:
        from sandbox import ec2_model  # noqa: PLC0415

        names = build_world(sandbox.ec2)
        event = fill(template_event, names)
        # Loggers that bind sys.stdout when the module is imported (Powertools does) would print around the
        # timeline; bind them to a sink instead. Their records still reach Invocation.logs (--logs).
        with contextlib.redirect_stdout(io.StringIO()):
            runtime = sandbox.runtime(handler, duplicate_polls=duplicate_polls)
        stack = sandbox.stack(_stack_name(event))
        instance_id = names["InstanceId"]
        logical_id = str(event.get("LogicalResourceId", "RootVolumeReplacement"))
        properties = _properties(event.get("ResourceProperties", {}))
        print(f"world: {json.dumps(names)}", file=out)

        request_type = event["RequestType"]
        physical_id = event.get("PhysicalResourceId")
        if request_type != "Create" and (physical_id is None or unfilled(physical_id)):
            old = _properties(event.get("OldResourceProperties", event.get("ResourceProperties", {})))
            ec2_model.set_timeline(instance_id, task_timeline(task_seconds, "succeeded"))
            print(f"\nsetup: Create {logical_id} to obtain a PhysicalResourceId", file=out)
            setup = runtime.run(stack.create(logical_id, old))
            print(setup.render(), file=out)
            if setup.status != "SUCCESS" or setup.response is None:
                print(f"setup Create did not succeed ({setup.status}); cannot send {request_type}", file=out)
                return EXIT_FAILED
            created = str(setup.response.field("PhysicalResourceId"))
            names.update(dict.fromkeys(_SETUP_PLACEHOLDERS, created))
            event = fill(event, names)
            physical_id = event.get("PhysicalResourceId", created)
            properties = _properties(event.get("ResourceProperties", {}))

        missing = unfilled(event)
        if missing:
            raise UsageError(f"{event_file}: unknown placeholder(s) {sorted(missing)}")
        ec2_model.set_timeline(instance_id, task_timeline(task_seconds, outcome))
        if request_type == "Create":
            request = stack.create(logical_id, properties, _resource_type(event))
        elif request_type == "Update":
            old = _properties(event.get("OldResourceProperties", {}))
            request = stack.update(logical_id, str(physical_id), properties, old, _resource_type(event))
        else:
            request = stack.delete(logical_id, str(physical_id), properties, _resource_type(event))
        print(f"\n{request_type} {logical_id} ({task_seconds:g}s task, outcome {outcome}):", file=out)
        result = runtime.run(request, on_invocation=_task_states(instance_id))
        _print_result(result, out, show_logs=show_logs)
        return EXIT_SUCCESS if result.status == "SUCCESS" else EXIT_FAILED


def _properties(properties: Any) -> dict[str, Any]:
    if not isinstance(properties, dict):
        raise UsageError("ResourceProperties must be an object")
    return {key: value for key, value in properties.items() if key != "ServiceToken"}


def _resource_type(event: dict[str, Any]) -> str:
    return str(event.get("ResourceType", "Custom::RootVolumeReplacement"))


def _stack_name(event: dict[str, Any]) -> str:
    """The stack name inside the event's StackId, when it has a usable one."""
    parts = str(event.get("StackId", "")).split("/")
    name = parts[1] if len(parts) > 2 else ""
    return name if re.fullmatch(r"[A-Za-z][A-Za-z0-9-]{0,127}", name) else "sandbox-stack"


def demo(out: TextIO = sys.stdout) -> int:
    """`make demo`: sandbox.demo.main() once it exists, else the launch-state Create through the sandbox."""
    if importlib.util.find_spec("sandbox.demo") is not None:
        result: int = importlib.import_module("sandbox.demo").main()
        return result
    _ensure_import_paths()
    handler = DEFAULT_HANDLER if importlib.util.find_spec("app") else "tests.sandbox.fake_handler:handler"
    print(f"demo: {DEMO_EVENT.relative_to(REPO_ROOT)} through {handler}\n", file=out)
    return invoke(DEMO_EVENT, task_seconds=600, handler=handler, out=out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sandbox", description="Offline AWS sandbox")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("invoke", help="run one CloudFormation request (event file) through the handler")
    run.add_argument("event_file", type=Path)
    run.add_argument("--task-seconds", type=float, default=60.0, help="how long the replacement task takes")
    run.add_argument("--outcome", choices=["succeeded", "failed", "failed-detached"], default="succeeded")
    run.add_argument("--handler", default=DEFAULT_HANDLER, help="module:function (default %(default)s)")
    run.add_argument("--duplicate-polls", action="store_true", help="EventBridge delivers every poll twice")
    run.add_argument("--logs", action="store_true", help="print the function's log lines")
    commands.add_parser("demo", help="the end-to-end demonstration (make demo)")
    args = parser.parse_args(argv)
    try:
        if args.command == "demo":
            return demo()
        return invoke(
            args.event_file,
            task_seconds=args.task_seconds,
            outcome=args.outcome,
            handler=args.handler,
            duplicate_polls=args.duplicate_polls,
            show_logs=args.logs,
        )
    except UsageError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
