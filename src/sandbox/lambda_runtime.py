"""Run a handler as Lambda would, in virtual time: `invoke` for one invocation, `run` for a whole request.

Each invocation gets a context whose remaining time follows the virtual clock down to start + Timeout (read
from template.yaml); sleeping past that raises FunctionTimedOut, which the handler cannot catch. What happens
between invocations (Lambda's async retries, EventBridge's scheduled polls) is `sandbox.delivery`.
"""

from __future__ import annotations

import contextlib
import io
import itertools
import json
import traceback
from collections.abc import Callable
from typing import Any

from sandbox import eventbridge, lambda_function, template
from sandbox.clock import FunctionTimedOut, VirtualClock
from sandbox.delivery import RETRY_DELAYS, DeliveryRun, RunResult, TimelineEntry
from sandbox.lambda_invocation import Handler, Invocation, LambdaContext, VirtualTimer, virtual_timers
from sandbox.lambda_logs import runtime_log_handler
from sandbox.response_endpoint import ResponseEndpoint

__all__ = [
    "RETRY_DELAYS",
    "Handler",
    "Invocation",
    "LambdaContext",
    "LambdaRuntime",
    "RunResult",
    "TimelineEntry",
]


class LambdaRuntime:
    def __init__(
        self,
        handler: Handler,
        clock: VirtualClock,
        *,
        function_name: str = "RootVolumeReplacementFunction",
        timeout_seconds: float | None = None,
        region: str = "us-east-1",
        account: str = "123456789012",
        duplicate_polls: bool = False,
        poll_delay_seconds: float = 0.0,
        max_virtual_seconds: float = 4 * 3600,
        endpoint: ResponseEndpoint | None = None,
        memory_mb: int | None = None,
    ) -> None:
        self.handler = handler
        self.clock = clock
        self.function_name = function_name
        self.timeout_seconds = (
            timeout_seconds if timeout_seconds is not None else template.function_timeout(function_name)
        )
        self.memory_mb = memory_mb if memory_mb is not None else template.function_memory(function_name)
        self.region = region
        self.account = account
        self.duplicate_polls = duplicate_polls
        self.poll_delay_seconds = poll_delay_seconds
        self.max_virtual_seconds = max_virtual_seconds
        self.endpoint = endpoint
        self.function_arn = lambda_function.function_arn(function_name, region, account)
        self._numbers = itertools.count(1)
        eventbridge.install()
        lambda_function.ensure_function(
            function_name, region, account, timeout=self.timeout_seconds, memory_mb=self.memory_mb
        )

    # -- one invocation ---------------------------------------------------------------------------------
    def invoke(
        self,
        event: dict[str, Any] | str,
        *,
        trigger: str = "direct",
        attempt: int = 0,
        duplicate: bool = False,
        due_at: float | None = None,
    ) -> Invocation:
        """One invocation, no retry. Lambda hands the handler a freshly deserialised copy of the event."""
        payload = json.loads(event if isinstance(event, str) else json.dumps(event))
        start = self.clock.now()
        deadline = start + self.timeout_seconds
        context = LambdaContext(
            self.function_name,
            region=self.region,
            account=self.account,
            memory_mb=self.memory_mb,
            deadline=deadline,
            clock=self.clock,
        )
        invocation = Invocation(
            number=next(self._numbers),
            trigger=trigger,
            attempt=attempt,
            duplicate=duplicate,
            request_type=str(payload.get("RequestType", "")),
            poll="CrHelperPoll" in payload,
            due_at=start if due_at is None else due_at,
            started_at=start,
            aws_request_id=context.aws_request_id,
        )
        printed = io.StringIO()
        timers: list[VirtualTimer] = []
        with runtime_log_handler().collect() as lines:
            try:
                with (
                    virtual_timers(self.clock, timers),
                    contextlib.redirect_stdout(printed),
                    self.clock.deadline(deadline),
                ):
                    try:
                        invocation.result = self.handler(payload, context)
                    finally:
                        for timer in timers:
                            timer.fire_if_due()
            except FunctionTimedOut:
                invocation.outcome = "timeout"
                invocation.error = f"Task timed out after {self.timeout_seconds:.2f} seconds"
                self.clock.advance_to(deadline)
            except Exception as error:  # an unhandled error: Lambda reports it and retries
                invocation.outcome = "error"
                invocation.error = f"{type(error).__name__}: {error}"
                lines.append(traceback.format_exc())
        invocation.ended_at = self.clock.now()
        invocation.logs = lines + printed.getvalue().splitlines()
        return invocation

    # -- a whole request, with retries and polls ---------------------------------------------------------
    def run(
        self, event: dict[str, Any], *, on_invocation: Callable[[Invocation], list[str]] | None = None
    ) -> RunResult:
        """Deliver `event` as CloudFormation does and follow it through retries and scheduled polls."""
        return DeliveryRun(self, event, on_invocation).execute()
