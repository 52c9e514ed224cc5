"""crhelper 2.0.12, adapted: each override answers one known defect (see ../shared/GUIDE.md §3).

The resource keeps crhelper's shape (decorated request and poll functions) and its EventBridge polling; this
module is the only place that knows crhelper's internals. Request and poll functions return outcomes.Done /
outcomes.WaitFor / None or raise outcomes.ReplacementFailed.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError
from crhelper import resource_helper

from . import response_sender
from .logs import logger, protect_third_party_logs, start_request
from .outcomes import Done, ReplacementFailed, RetryLater, WaitFor
from .rules import LAMBDA_SAFETY_SECONDS, POLL_PERIOD_SECONDS, failed_create_physical_id, polling_name
from .waiting import retry_transient

FAILED = "FAILED"
SUCCESS = "SUCCESS"
# The poll event (EventBridge target Input, ≤ 8192 chars) carries only these keys, never ResourceProperties.
POLL_EVENT_KEYS = (
    "RequestType",
    "ResponseURL",
    "StackId",
    "RequestId",
    "LogicalResourceId",
    "PhysicalResourceId",
    "ResourceType",
    "CrHelperData",
    "CrHelperPoll",
    "CrHelperRule",
    "CrHelperPermission",
)
_NOT_FOUND = ("ResourceNotFoundException", "ResourceNotFound")
_THROTTLING = ("ThrottlingException", "TooManyRequestsException", "Throttling", "RequestLimitExceeded")


def _is_throttling(error: Exception) -> bool:
    return isinstance(error, ClientError) and error.response.get("Error", {}).get("Code") in _THROTTLING


# crhelper's stubs type request functions as returning a physical id; ours return outcomes, so it is used untyped.
_CfnResource: Any = resource_helper.CfnResource


class ReplacementResource(_CfnResource):  # type: ignore[misc]
    PhysicalResourceId: str | None
    Data: dict[str, Any]

    def __init__(self) -> None:
        # Defect: log_level defaults to DEBUG, which logs the whole event and the ResponseURL. Our own logs go
        # through Powertools at the template's level; crhelper's stay at WARNING.
        # Defect: sleep_on_delete sleeps 120 s on every Delete (billed, and slows stack deletion) for no benefit.
        super().__init__(
            json_logging=False, log_level="WARNING", boto_level="WARNING", polling_interval=1, sleep_on_delete=0
        )
        protect_third_party_logs()
        self._wait: WaitFor | None = None
        self._failure_physical_id: str | None = None
        self._retry_later: RetryLater | None = None

    def __call__(self, event: dict[str, Any], context: Any) -> None:
        start_request(event)
        protect_third_party_logs()
        self._wait = None
        self._failure_physical_id = None
        self._retry_later = None
        super().__call__(event, context)
        if self._retry_later is not None:
            # Outside crhelper's catch-all on purpose: an unhandled error is what makes Lambda deliver it again.
            raise self._retry_later

    def _log_setup(self, event: dict[str, Any], context: Any) -> None:
        # crhelper re-initialises the root logger on every call; keep third-party loggers quiet after it.
        super()._log_setup(event, context)
        protect_third_party_logs()

    # Defect: a duplicated or late poll, after the answer was sent and the rule deleted, fails in
    # remove_targets and then sends FAILED after the SUCCESS. A poll whose rule is gone does nothing at all.
    def _crhelper_init(self, event: dict[str, Any], context: Any) -> bool:
        if "CrHelperPoll" in event and not self._rule_exists(str(event.get("CrHelperRule", ""))):
            logger.info("Poll for a request that was already answered; ignoring it")
            return False
        return bool(super()._crhelper_init(event, context))

    # Defect: crhelper's timer sends FAILED from another thread 0.5 s before the Lambda timeout, while the
    # invocation may still finish or Lambda may retry it. Our waits end well before the timeout instead.
    def _set_timeout(self) -> None:
        return None

    def _wrap_function(self, func: Any) -> None:
        try:
            outcome = func(self._event, self._context) if func else None
        except RetryLater as later:
            logger.warning("Nothing answered; the request will be delivered again", extra={"reason": str(later)})
            self._retry_later = later
            return
        except ReplacementFailed as failure:
            self._fail(str(failure), failure.physical_id)
            return
        except Exception as error:
            logger.exception("Unexpected error")
            self._fail(f"Unexpected error: {type(error).__name__}: {error}", None)
            return
        if isinstance(outcome, Done):
            self.PhysicalResourceId, self.Data = outcome.physical_id, dict(outcome.data)
        elif isinstance(outcome, WaitFor):
            self.PhysicalResourceId, self.Data, self._wait = outcome.physical_id, dict(outcome.state), outcome
        else:
            self.PhysicalResourceId = None

    def _fail(self, reason: str, physical_id: str | None) -> None:
        if self._event.get("RequestType") == "Delete":
            # A Delete that fails leaves the stack stuck; whatever went wrong, it succeeds and says so in the log.
            logger.warning("Delete reports SUCCESS despite an error", extra={"error": reason})
            self.Status, self.PhysicalResourceId = SUCCESS, self._event.get("PhysicalResourceId") or "none"
            return
        logger.error("Request failed", extra={"reason": reason})
        self.Status, self.Reason, self.Data = FAILED, reason, {}
        # Whatever id the request chose for success is not the failure's: an Update keeps its current id.
        self.PhysicalResourceId, self._failure_physical_id = None, physical_id

    # Defect: the first poll comes one full interval after the first invocation ends, so a 20-second
    # replacement would be heard after more than a minute. The request keeps waiting after scheduling polls,
    # until just before the first one; work that finishes at once (Tags-only Update, Delete) skips polling.
    def _polling_init(self, event: dict[str, Any]) -> None:
        if self._retry_later is not None:
            return  # no polling, no answer: Lambda delivers the request again
        is_poll = "CrHelperPoll" in event
        if not is_poll and self.Status != FAILED:
            if self._wait is None:
                self._send_response = True
                return
            self.Data["PollingSince"] = time.time()
            try:
                # EventBridge's control plane allows 50 calls a second per account: a large stack can exceed it.
                # Every step is idempotent (deterministic names), so throttling is retried while time allows,
                # then left to Lambda's redelivery; it never fails a replacement that has started.
                retry_transient(self._setup_polling, self._time_left(), transient=_is_throttling)
            except Exception as error:
                if _is_throttling(error):
                    self._remove_polling()
                    self._retry_later = RetryLater(f"Scheduling polling for {self._wait.physical_id} is throttled")
                    logger.warning("Polling not scheduled yet; the request will be delivered again")
                    return
                logger.exception("Could not schedule polling")
                self._remove_polling()
                self._fail(f"Could not schedule waiting for {self._wait.physical_id}: {error}", self._wait.physical_id)
                self._send_response = True
                return
            self._wrap_function(self._get_func())
        if self.PhysicalResourceId or self.Status == FAILED:
            self._remove_polling()
            self._send_response = True

    # Defect: rule name = LogicalResourceId + 8 random chars exceeds EventBridge's 64 (crhelper #61), and the
    # StatementId likewise exceeds 100. Ours fit for any logical id and are the same when a request is redelivered.
    def _polling_name(self) -> str:
        return polling_name(self._event["LogicalResourceId"], self._event["StackId"], self._event["RequestId"])

    def _put_rule(self) -> str:
        response = self._events_client.put_rule(
            Name=self._polling_name(),
            ScheduleExpression=f"rate({POLL_PERIOD_SECONDS // 60} minute)",
            State="ENABLED",
            Description="Polls a Custom::RootVolumeReplacement task; deleted when it ends",
        )
        return str(response["RuleArn"])

    # Defect: one AddPermission statement per rule fills the function's 20 KB resource-based policy (a quota that
    # cannot be raised) at about 60 resources waiting at once; the next Create then fails. The template grants
    # EventBridge rules named rvr-* once (PollingInvokePermission), so there is nothing to add or remove here.
    def _add_permission(self, rule_arn: str) -> str:
        return ""

    # Defect: the target Input is the whole event, over EventBridge's 8192 chars with large properties.
    def _put_targets(self, func_name: str) -> None:
        rule_arn = self._event["CrHelperRule"]
        partition, region, account = rule_arn.split(":")[1], rule_arn.split(":")[3], rule_arn.split(":")[4]
        poll_event = {key: self._event[key] for key in POLL_EVENT_KEYS if key in self._event}
        self._events_client.put_targets(
            Rule=rule_arn.split("/")[-1],
            Targets=[
                {
                    "Id": "1",
                    "Arn": f"arn:{partition}:lambda:{region}:{account}:function:{func_name}",
                    "Input": json.dumps(poll_event, separators=(",", ":")),
                }
            ],
        )

    # Defect: removal raises when a step already happened (duplicate poll, redelivery), which crhelper turns
    # into a FAILED. Each step here tolerates "not found"; other errors are logged, never raised, so the answer
    # still goes out. A rule that could not be removed keeps firing, and its next poll retries the clean-up.
    def _remove_polling(self) -> None:
        self._event.pop("CrHelperData", None)
        self.Data.pop("PhysicalResourceId", None)
        self.Data.pop("PollingSince", None)
        rule_arn = self._event.get("CrHelperRule")
        rule = rule_arn.rsplit("/", maxsplit=1)[-1] if rule_arn else None
        rule_gone = rule is None or (
            self._cleanup_step("remove_targets", lambda: self._events_client.remove_targets(Rule=rule, Ids=["1"]))
            and self._cleanup_step("delete_rule", lambda: self._events_client.delete_rule(Name=rule))
        )
        if not rule_gone:
            logger.warning("Polling rule not removed; its next poll will retry the clean-up", extra={"rule": rule})

    @staticmethod
    def _cleanup_step(name: str, step: Callable[[], Any]) -> bool:
        try:
            step()
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in _NOT_FOUND:
                return True
            logger.warning("Polling clean-up step failed", extra={"step": name, "error": str(error)})
            return False
        except Exception as error:
            logger.warning("Polling clean-up step failed", extra={"step": name, "error": str(error)})
            return False
        return True

    def _time_left(self) -> float:
        remaining = float(self._context.get_remaining_time_in_millis()) / 1000
        return time.time() + remaining - LAMBDA_SAFETY_SECONDS

    def _rule_exists(self, rule_arn: str) -> bool:
        if not rule_arn:
            return True
        try:
            self._events_client.describe_rule(Name=rule_arn.rsplit("/", maxsplit=1)[-1])
        except ClientError as error:
            return error.response.get("Error", {}).get("Code") not in _NOT_FOUND
        except Exception:
            return True  # cannot tell: polling on is the safe side, the task's state decides the answer
        return True

    # Defect: a failed Create reports a random PhysicalResourceId (#7) and init_failure an empty one (#67).
    def _cfn_response(self, event: dict[str, Any]) -> None:
        self.PhysicalResourceId = self._physical_id()
        self._send()

    def _physical_id(self) -> str:
        if self.Status == FAILED and self._failure_physical_id:
            return self._failure_physical_id
        if self.PhysicalResourceId:
            return str(self.PhysicalResourceId)
        if self._event.get("PhysicalResourceId"):
            return str(self._event["PhysicalResourceId"])
        return failed_create_physical_id(
            str(self._event.get("StackId", "")),
            str(self._event.get("LogicalResourceId", "")),
            str(self._event.get("RequestId", "")),
        )

    # Defects: Reason over 256 chars keeps only its tail; the 4096-byte body limit is not checked; the PUT
    # retries forever and counts any HTTP status as delivered. response_sender answers all three.
    def _send(self, status: str | None = None, reason: str = "", send_response: Any = None) -> None:
        if status:
            self.Status, self.Reason = status, reason
        if self.Status == FAILED:
            self.Data = {}
        body = {
            "Status": self.Status,
            "Reason": str(self.Reason or ""),
            "PhysicalResourceId": self._physical_id(),
            "StackId": self.StackId or self._event.get("StackId", ""),
            "RequestId": self.RequestId or self._event.get("RequestId", ""),
            "LogicalResourceId": self.LogicalResourceId or self._event.get("LogicalResourceId", ""),
            "NoEcho": False,
            "Data": {k: v for k, v in (self.Data or {}).items() if not k.startswith("CrHelper")},
        }
        if body["Status"] == FAILED and not body["Reason"]:
            body["Reason"] = "Failed without a reason (see the function's log)"
        deadline = None
        if self._context is not None:
            deadline = time.time() + self._context.get_remaining_time_in_millis() / 1000 - 1
        logger.info(
            "Answering CloudFormation", extra={"status": body["Status"], "physical_id": body["PhysicalResourceId"]}
        )
        response_sender.send(self._response_url or str(self._event.get("ResponseURL", "")), body, deadline)
