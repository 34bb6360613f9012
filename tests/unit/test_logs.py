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
