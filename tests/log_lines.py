"""The service's log lines as it writes them, caught in the test's process."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from app.logs import JsonLineFormatter


class LogLines(logging.Handler):
    """Each record formatted when it is logged, as the service's handler does (the request's
    id and trace come from the context it is logged in), for a test to read or wait for: a
    server on a thread may log after its client has had its answer."""

    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(JsonLineFormatter())
        self.lines: list[dict[str, Any]] = []
        self._logged = threading.Condition()

    def emit(self, record: logging.LogRecord) -> None:
        with self._logged:
            self.lines.append(json.loads(self.format(record)))
            self._logged.notify_all()

    def wait_for(self, event: str, timeout: float = 10) -> dict[str, Any]:
        """The first line of ``event``, once it is logged."""

        def first() -> dict[str, Any] | None:
            return next((line for line in self.lines if line.get("event") == event), None)

        with self._logged:
            found = self._logged.wait_for(first, timeout)
        assert found is not None, f"no {event} logged within {timeout} s"
        return found


@contextmanager
def logged(name: str) -> Iterator[LogLines]:
    """The JSON lines that logger ``name`` (and those below it) writes at INFO and above."""
    handler, logger = LogLines(), logging.getLogger(name)
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
