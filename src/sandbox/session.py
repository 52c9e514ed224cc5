"""One offline AWS for one test (or one CLI run): clock, moto, our models and limits, and CloudFormation's endpoint.

Every `Sandbox` starts from nothing: moto's backends are reset, the EC2 timelines and call log are cleared, a
new CA and endpoint are made. The handler module creates boto3 clients when it is imported, so it has to be
imported inside the sandbox (after the mock and the environment are in place); `load_handler` does that, fresh.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import importlib
import importlib.util
import os
import sys
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any

import boto3
from moto import mock_aws

from sandbox import aws_limits, eventbridge, lambda_function, template
from sandbox.clock import DEFAULT_START, VirtualClock
from sandbox.cloudformation import CloudFormationStack
from sandbox.lambda_logs import isolated_logging
from sandbox.lambda_runtime import Handler, LambdaRuntime
from sandbox.response_endpoint import ResponseEndpoint

DEFAULT_FUNCTION_NAME = "RootVolumeReplacementFunction"
DEFAULT_HANDLER = "app:handler"

# What the Lambda runtime sets, plus fake credentials so that nothing can reach a real account. AWS_SAM_LOCAL
# is removed: crhelper skips polling entirely when it is set.
_REMOVED_ENV = ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_SAM_LOCAL", "AWS_CA_BUNDLE")


_MOTO_FAKE_KEY = "testing"  # moto's conventional fake credentials: nothing here can reach a real account


def _lambda_environment(region: str, function_name: str, memory_mb: int) -> dict[str, str]:
    return {
        "AWS_DEFAULT_REGION": region,
        "AWS_REGION": region,
        "AWS_ACCESS_KEY_ID": _MOTO_FAKE_KEY,
        "AWS_SECRET_ACCESS_KEY": _MOTO_FAKE_KEY,
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_LAMBDA_FUNCTION_NAME": function_name,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(memory_mb),
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{function_name}",
        "AWS_LAMBDA_LOG_STREAM_NAME": "2026/01/05/[$LATEST]sandbox",
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
        # moto would load ~2,600 public AMIs per EC2 backend (0.5 s a sandbox); the world registers its own.
        "MOTO_EC2_LOAD_DEFAULT_AMIS": "false",
    }


def load_handler(spec: str = DEFAULT_HANDLER) -> Handler:
    """Import "module:function" afresh, as a new Lambda execution environment would.

    The module is dropped from sys.modules first. When it is a top-level module of a plain directory (like
    src/handler/app.py, where Lambda puts the code at the root), every module loaded from that directory and
    below is dropped too: they may also create clients or hold state at import.
    """
    module_name, _, attribute = spec.partition(":")
    if not attribute:
        raise ValueError(f"handler spec {spec!r} must look like module:function")
    found = importlib.util.find_spec(module_name)
    if found is not None and found.origin and "." not in module_name:
        directory = Path(found.origin).parent
        if not (directory / "__init__.py").exists():
            for name, module in list(sys.modules.items()):
                origin = getattr(module, "__file__", None)
                if origin and Path(origin).is_relative_to(directory):
                    del sys.modules[name]
    sys.modules.pop(module_name, None)
    module = importlib.import_module(module_name)
    handler: Handler = getattr(module, attribute)
    return handler


def _install_optional(module_name: str) -> None:
    """Install a sibling model if it exists (ec2_model, aws_calls are written alongside this module)."""
    if importlib.util.find_spec(f"sandbox.{module_name}") is None:
        return
    module = importlib.import_module(f"sandbox.{module_name}")
    module.install()
    for reset_name in ("reset", "reset_timelines"):
        reset = getattr(module, reset_name, None)
        if callable(reset):
            reset()


class Sandbox:
    def __init__(
        self,
        *,
        region: str = "us-east-1",
        account: str = "123456789012",
        function_name: str = DEFAULT_FUNCTION_NAME,
        memory_mb: int | None = None,
        start: dt.datetime = DEFAULT_START,
    ) -> None:
        self.region = region
        self.account = account
        self.function_name = function_name
        self.memory_mb = memory_mb if memory_mb is not None else template.function_memory(function_name)
        self.clock = VirtualClock(start)
        self.endpoint = ResponseEndpoint()
        self._mock = mock_aws()
        self._saved_env: dict[str, str | None] = {}
        self._undo = contextlib.ExitStack()
        self.ec2: Any = None
        self.events: Any = None
        self.lambda_: Any = None

    def __enter__(self) -> Sandbox:
        with contextlib.ExitStack() as undo:  # a failure half-way undoes what was already set up
            self._set_environment()
            undo.callback(self._restore_environment)
            self.clock.start()
            undo.callback(self.clock.stop)
            undo.enter_context(isolated_logging())  # before any handler import, as in a new Lambda process
            self._mock.start()
            undo.callback(self._mock.stop)
            for name in ("ec2_model", "aws_calls"):
                _install_optional(name)
            aws_limits.install()
            eventbridge.install()
            eventbridge.reset()
            lambda_function.install()
            lambda_function.reset()
            self.endpoint.start()
            undo.callback(self.endpoint.stop)
            self.ec2 = boto3.client("ec2", region_name=self.region)
            self.events = boto3.client("events", region_name=self.region)
            self.lambda_ = boto3.client("lambda", region_name=self.region)
            self._undo = undo.pop_all()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._undo.close()

    def _set_environment(self) -> None:
        wanted: dict[str, str | None] = dict.fromkeys(_REMOVED_ENV)
        wanted.update(_lambda_environment(self.region, self.function_name, self.memory_mb))
        for key, value in wanted.items():
            self._saved_env[key] = os.environ.get(key)
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value

    def _restore_environment(self) -> None:
        for key, value in self._saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        self._saved_env.clear()

    # -- what tests use ------------------------------------------------------------------------------------
    @property
    def function_arn(self) -> str:
        return lambda_function.function_arn(self.function_name, self.region, self.account)

    def stack(self, name: str = "sandbox-stack") -> CloudFormationStack:
        return CloudFormationStack(name, self.endpoint, self.function_arn, region=self.region, account=self.account)

    def runtime(self, handler: Handler | str | None = None, **options: Any) -> LambdaRuntime:
        """A LambdaRuntime for `handler` (a callable, a "module:function" spec, or None for app:handler)."""
        resolved: Callable[[dict[str, Any], Any], Any] = (
            load_handler(handler or DEFAULT_HANDLER) if handler is None or isinstance(handler, str) else handler
        )
        options.setdefault("function_name", self.function_name)
        options.setdefault("memory_mb", self.memory_mb)
        return LambdaRuntime(
            resolved, self.clock, region=self.region, account=self.account, endpoint=self.endpoint, **options
        )
