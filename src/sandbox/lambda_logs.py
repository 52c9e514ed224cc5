"""What a function writes to CloudWatch Logs, and a logging state per sandbox as per Lambda process.

In Lambda the runtime's log handler sits on the root logger before the function's module is imported, so code
that adjusts root handlers at import (adds a redacting filter, sets a formatter) adjusts that handler too. The
sandbox does the same: `LambdaLogHandler` is installed when the sandbox starts and collects one invocation's
records at a time. `isolated_logging` puts the process's logging settings back when the sandbox ends, so one
test's handler configuration cannot change what the next test's function logs.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

_FORMAT = "[%(levelname)s] %(name)s: %(message)s"


class LambdaLogHandler(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.NOTSET)
        self.setFormatter(logging.Formatter(_FORMAT))
        self._lines: list[str] | None = None

    def emit(self, record: logging.LogRecord) -> None:
        if self._lines is not None:
            self._lines.append(self.format(record))

    @contextlib.contextmanager
    def collect(self) -> Iterator[list[str]]:
        """The lines logged within the block (one invocation)."""
        lines: list[str] = []
        previous, self._lines = self._lines, lines
        try:
            yield lines
        finally:
            self._lines = previous


def runtime_log_handler() -> LambdaLogHandler:
    """The LambdaLogHandler on the root logger, installed now if the sandbox did not do it already."""
    for handler in logging.root.handlers:
        if isinstance(handler, LambdaLogHandler):
            return handler
    handler = LambdaLogHandler()
    logging.root.addHandler(handler)
    return handler


@contextlib.contextmanager
def isolated_logging() -> Iterator[LambdaLogHandler]:
    """The Lambda runtime's handler on the root logger; on exit, the settings loggers had before, put back.

    What the function configures on loggers that already existed (crhelper sets the root level, a handler
    raises library levels or adds filters) ends with the sandbox: levels, propagation, filters, the root
    logger's handlers and their filters (cleared for the sandbox's duration). Handlers on other loggers, and
    loggers first created inside the sandbox, are left as they are: libraries such as Powertools mark a logger
    as configured together with its handler, and taking one away without the other would leave it silent.
    """
    root = logging.root
    manager = root.manager
    saved = {
        name: (existing.level, existing.propagate, existing.disabled, list(existing.filters))
        for name, existing in manager.loggerDict.items()
        if isinstance(existing, logging.Logger)
    }
    saved_root = (root.level, list(root.filters), list(root.handlers))
    saved_handler_filters = [(each, list(each.filters)) for each in root.handlers]
    saved_disable = manager.disable
    for each, _ in saved_handler_filters:
        # Filters an earlier function put on the root handlers (a redactor, say) act on every record before
        # ours sees it; a new process would not have them.
        each.filters = []
    handler = runtime_log_handler()
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.filters, root.handlers = saved_root[1], saved_root[2]
        for each, each_filters in saved_handler_filters:
            each.filters = each_filters
        root.setLevel(saved_root[0])
        for name, (level, propagate, disabled, filters) in saved.items():
            existing = manager.loggerDict.get(name)
            if isinstance(existing, logging.Logger):
                existing.propagate, existing.disabled, existing.filters = propagate, disabled, filters
                existing.setLevel(level)
        logging.disable(saved_disable)  # also clears every logger's cached effective level
