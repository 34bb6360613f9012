"""What a process that configured its logging writes: one JSON object per line, even for what
Python prints as raw text otherwise (a warning, a traceback nothing caught in a thread or in the
main thread). Run in a fresh interpreter, whose hooks and handlers the test may replace."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.processes import ROOT

PROGRAM = """
import threading, warnings
from app.logs import configure_logging

configure_logging("info")
warnings.warn("a warning")
thread = threading.Thread(target=lambda: 1 / 0)
thread.start()
thread.join()
raise LookupError("nothing caught this")
"""


def test_warnings_and_uncaught_exceptions_are_json_lines() -> None:
    ended = subprocess.run(
        [sys.executable, "-c", PROGRAM], cwd=ROOT, capture_output=True, text=True, timeout=30
    )
    assert ended.returncode == 1
    assert ended.stdout == ""
    records = [json.loads(line) for line in ended.stderr.splitlines()]
    warning, in_thread, in_main = records
    assert (warning["logger"], warning["level"]) == ("py.warnings", "warning")
    assert "a warning" in warning["message"]
    for record, error in ((in_thread, "ZeroDivisionError"), (in_main, "LookupError")):
        assert (record["level"], record["event"], record["error"]) == (
            "critical",
            "uncaught_exception",
            error,
        )
        assert record["exception"].startswith("Traceback (most recent call last):")


WRITES = """
import logging, sys, threading
import app.logs


class Writes:
    \"\"\"stderr, counting the writes it is asked for, and telling when one comes.\"\"\"

    def __init__(self):
        self.count = 0
        self.written = threading.Event()

    def write(self, text):
        self.count += 1
        sys.__stderr__.write(text)
        self.written.set()

    def flush(self):
        sys.__stderr__.flush()


sys.stderr = writes = Writes()
log = logging.getLogger("app.requests")
"""

BATCHED = (
    WRITES
    + """
# No line waits for the interval here: what is written, is written for another reason.
app.logs.LINE_BATCH_SECONDS = 3600
app.logs.configure_logging("info")
for index in range(200):
    log.info({"event": "http_request", "index": index})
logging.getLogger("app").info({"event": "then_another_logger"})
for index in range(100):
    log.info({"event": "http_request", "index": index})
log.warning({"event": "then_a_warning"})
print(writes.count)
log.info({"event": "last"})
"""
)

ALONE = (
    WRITES
    + """
app.logs.configure_logging("info")
log.info({"event": "alone"})
# Nothing else comes: the line waiting alone is written by the interval's thread.
print(writes.written.wait(10))
"""
)


def _run(program: str) -> tuple[str, list[str]]:
    ended = subprocess.run(
        [sys.executable, "-c", program], cwd=ROOT, capture_output=True, text=True, timeout=30
    )
    assert ended.returncode == 0, ended.stderr
    return ended.stdout.strip(), [json.loads(line)["event"] for line in ended.stderr.splitlines()]


def test_request_lines_are_written_together_and_none_is_lost_at_exit() -> None:
    writes, events = _run(BATCHED)
    # Request lines wait for a line of another logger, or a warning, and go with it: two
    # writes (one a line before).
    assert writes == "2"
    # In order; and the last line, still waiting as the process exited, was written then.
    assert events == [
        *["http_request"] * 200,
        "then_another_logger",
        *["http_request"] * 100,
        "then_a_warning",
        "last",
    ]


def test_a_line_waiting_alone_is_written_within_the_interval() -> None:
    written, events = _run(ALONE)
    assert written == "True"
    assert events == ["alone"]
