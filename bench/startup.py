"""Section 3: start-up and footprint, measured for real (not in virtual time).

- Import and initialisation of each handler module in a fresh interpreter, as a Lambda cold start does after the
  runtime is up: the median of many runs, ours and the baseline interleaved so that both see the same machine.
- Peak memory of one full lifecycle (Create, tags-only Update, Delete) on the sandbox, in a fresh process.
- The deployment package `sam build` produces, unzipped, and what is in it.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
HANDLER_DIR = REPO / "src" / "handler"
PACKAGE_LIMIT_BYTES = 10 * 1024 * 1024

# What a Lambda execution environment has set when the module is imported (no network is touched at import).
_LAMBDA_ENV = {
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    "AWS_LAMBDA_FUNCTION_NAME": "bench",
    "POWERTOOLS_SERVICE_NAME": "root-volume-replacement",
    "POWERTOOLS_LOG_LEVEL": "INFO",
}

_IMPORT_PROBE = """
import json, sys, time
start = time.perf_counter()
import {module}
elapsed = time.perf_counter() - start
extra = None
if {first_client}:
    from root_volume_replacement import ec2
    begin = time.perf_counter()
    ec2._client("describe")
    extra = time.perf_counter() - begin
print(json.dumps([elapsed, extra]))
"""

VARIANTS = {
    # name: (module to import, PYTHONPATH, also time the first EC2 client?)
    "ours": ("app", str(HANDLER_DIR), True),
    "baseline": ("bench.baseline_handler", f"{REPO}{os.pathsep}{HANDLER_DIR}", False),
    "crhelper only": ("bench.crhelper_only", str(REPO), False),
}


def _environment(pythonpath: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("AWS_", "POWERTOOLS_"))}
    env.update(_LAMBDA_ENV)
    env["PYTHONPATH"] = pythonpath
    return env


def _probe(variant: str) -> tuple[float, float | None]:
    module, pythonpath, first_client = VARIANTS[variant]
    code = _IMPORT_PROBE.format(module=module, first_client=first_client)
    completed = subprocess.run(
        [sys.executable, "-c", code],
        env=_environment(pythonpath),
        capture_output=True,
        text=True,
        check=True,
        cwd=tempfile.gettempdir(),
    )
    elapsed, extra = json.loads(completed.stdout.strip().splitlines()[-1])
    return float(elapsed), None if extra is None else float(extra)


def measure_imports(runs: int) -> dict[str, Any]:
    for variant in VARIANTS:  # warm the OS file cache and write the bytecode caches, as a deployed package has
        _probe(variant)
    samples: dict[str, list[float]] = {variant: [] for variant in VARIANTS}
    first_client: list[float] = []
    for _ in range(runs):
        for variant in VARIANTS:
            elapsed, extra = _probe(variant)
            samples[variant].append(elapsed)
            if extra is not None:
                first_client.append(extra)
    medians = {variant: statistics.median(values) for variant, values in samples.items()}
    return {
        "runs": runs,
        "samples": samples,
        "median": medians,
        "ratio": medians["ours"] / medians["baseline"],
        "ours_first_ec2_client_median": statistics.median(first_client) if first_client else None,
    }


_LIFECYCLE_PROBE = """
import json, os, resource, sys, tracemalloc
os.environ["POWERTOOLS_LOG_LEVEL"] = "INFO"
from sandbox import ec2_model, world
from sandbox.driver import StackResource
from sandbox.ec2_timeline import Timeline
from sandbox.session import Sandbox

handler = sys.argv[1]
with Sandbox() as sb:
    instance = world.make_instance(sb.ec2)
    ec2_model.set_timeline(instance.instance_id, Timeline(pending_seconds=2, in_progress_seconds=298))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    tracemalloc.start()
    resource_ = StackResource(sb, runtime_options={"handler": handler})
    statuses = [resource_.create({"InstanceId": instance.instance_id}).status]
    statuses.append(resource_.update({"InstanceId": instance.instance_id, "Tags": [{"Key": "a", "Value": "b"}]}).status)
    statuses.append(resource_.delete().status)
    current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"statuses": statuses, "traced_peak": peak, "rss_before_kib": before, "rss_after_kib": after}))
"""


def measure_lifecycle_memory(handler: str) -> dict[str, Any]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(str(p) for p in (REPO / "src", HANDLER_DIR, REPO))
    completed = subprocess.run(
        [sys.executable, "-c", _LIFECYCLE_PROBE, handler], env=env, capture_output=True, text=True, check=True
    )
    result: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
    return result


def _tree_size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def measure_package() -> dict[str, Any]:
    """`sam build` into a temporary directory (never the repository's .aws-sam), then measure the function."""
    sam = REPO / ".venv-sam" / "bin" / "sam"
    if not sam.exists():
        return {"available": False, "why": f"{sam.relative_to(REPO)} not found (run `make build` once to create it)"}
    with tempfile.TemporaryDirectory(prefix="bench-sam-") as work:
        env = dict(os.environ)
        # sam checks that a python3.13 is on PATH for the runtime: the interpreter running this is one.
        env["PATH"] = f"{Path(sys.base_prefix) / 'bin'}{os.pathsep}{env.get('PATH', '')}"
        env["SAM_CLI_TELEMETRY"] = "0"
        command = [
            str(sam),
            "build",
            "--template-file",
            str(REPO / "template.yaml"),
            "--base-dir",
            str(REPO),
            "--build-dir",
            str(Path(work) / "build"),
            "--cache-dir",
            str(Path(work) / "cache"),
        ]
        completed = subprocess.run(command, env=env, capture_output=True, text=True, cwd=work, check=False)
        function_dir = Path(work) / "build" / "ReplacementFunction"
        if completed.returncode != 0 or not function_dir.exists():
            tail = (completed.stdout + completed.stderr).strip().splitlines()[-3:]
            return {"available": False, "why": "sam build failed: " + " | ".join(tail)}
        entries = {}
        for entry in sorted(function_dir.iterdir()):
            size = _tree_size(entry) if entry.is_dir() else entry.stat().st_size
            entries[entry.name] = size
        total = _tree_size(function_dir)
        names = {name.split("-")[0].lower() for name in entries}
        shutil.rmtree(Path(work) / "build", ignore_errors=True)
    return {
        "available": True,
        "bytes": total,
        "entries": entries,
        "bundles_boto3": "boto3" in names or "botocore" in names,
        "within_limit": total <= PACKAGE_LIMIT_BYTES,
    }


def run_startup(runs: int, *, with_package: bool) -> dict[str, Any]:
    return {
        "imports": measure_imports(runs),
        "memory": {
            "ours": measure_lifecycle_memory("app:handler"),
            "baseline": measure_lifecycle_memory("bench.baseline_handler:handler"),
        },
        "package": measure_package() if with_package else {"available": False, "why": "skipped by --quick"},
    }
