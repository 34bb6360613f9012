"""What a process that configured its logging writes: one JSON object per line, even for what
Python prints as raw text otherwise (a warning, a traceback nothing caught in a thread or in the
main thread). Run in a fresh interpreter, whose hooks and handlers the test may replace; and the
request's line, which skips logging's records once the service's handler is in place."""

from __future__ import annotations

import io
import json
import logging
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from opentelemetry import trace
from opentelemetry.trace import INVALID_SPAN, Span

from app.logs import REQUEST_ID, REQUEST_LOG, BatchedLines, JsonLineFormatter, RequestLines
from tests.log_lines import logged
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
requests = app.logs.REQUEST_LINES
from opentelemetry.trace import INVALID_SPAN
"""

BATCHED = (
    WRITES
    + """
# No line waits for the interval here: what is written, is written for another reason.
app.logs.LINE_BATCH_SECONDS = 3600
app.logs.configure_logging("info")
for index in range(200):
    requests.write({"event": "http_request", "index": index}, "r", INVALID_SPAN)
logging.getLogger("app").info({"event": "then_another_logger"})
for index in range(100):
    requests.write({"event": "http_request", "index": index}, "r", INVALID_SPAN)
# A record of the request logger itself is a line like any other.
logging.getLogger("app.requests").warning({"event": "then_a_record"})
print(writes.count)
requests.write({"event": "last"}, "r", INVALID_SPAN)
"""
)

ALONE = (
    WRITES
    + """
app.logs.configure_logging("info")
requests.write({"event": "alone"}, "r", INVALID_SPAN)
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
    # Request lines wait for a line logged through logging, and go with it: two writes (one
    # a line before).
    assert writes == "2"
    # In order; and the last line, still waiting as the process exited, was written then.
    assert events == [
        *["http_request"] * 200,
        "then_another_logger",
        *["http_request"] * 100,
        "then_a_record",
        "last",
    ]


def test_a_line_waiting_alone_is_written_within_the_interval() -> None:
    written, events = _run(ALONE)
    assert written == "True"
    assert events == ["alone"]


def _in_a_request(write: Callable[[str, Span], None]) -> None:
    """``write`` of a request's id and span as if serving it: with its id, inside a span of a
    trace."""
    span = trace.NonRecordingSpan(trace.SpanContext(trace_id=TRACE_ID, span_id=1, is_remote=False))
    request_id = REQUEST_ID.set("request-7")
    try:
        with trace.use_span(span):
            write("request-7", span)
    finally:
        REQUEST_ID.reset(request_id)


TRACE_ID = 0x0AF7651916CD43DD8448EB211C80319C
FIELDS = {"event": "http_request", "status": 200, "operationName": "Images"}


@contextmanager
def the_service_handler() -> Iterator[tuple[RequestLines, BatchedLines, io.StringIO]]:
    """Request lines as configure_logging leaves them: the root's one handler (into a string,
    its batches written only when flushed) at INFO, and the request lines handed to it."""
    stream = io.StringIO()
    handler = BatchedLines(stream, interval=3600)
    formatter = JsonLineFormatter()
    handler.setFormatter(formatter)
    lines = RequestLines()
    lines.direct = (handler, formatter)
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    try:
        yield lines, handler, stream
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
        handler.close()


def test_a_request_line_handed_to_the_handler_is_the_line_logging_would_write() -> None:
    with logged(REQUEST_LOG) as through_logging:
        _in_a_request(lambda request_id, span: RequestLines().write(FIELDS, request_id, span))
    with the_service_handler() as (lines, handler, stream):
        _in_a_request(lambda request_id, span: lines.write(FIELDS, request_id, span))
        assert stream.getvalue() == ""  # Handed over: it waits for the batch.
        handler.flush()
    [logged_line] = through_logging.lines
    handed = json.loads(stream.getvalue())
    del handed["time"], logged_line["time"]
    assert (
        handed
        == logged_line
        == {
            "level": "info",
            "logger": REQUEST_LOG,
            "requestId": "request-7",
            "traceId": f"{TRACE_ID:032x}",
            **FIELDS,
        }
    )


def test_a_handler_added_on_the_way_sees_request_lines() -> None:
    with the_service_handler() as (lines, _, stream), logged("app") as added:
        lines.write(FIELDS, "request-7", INVALID_SPAN)
        # Through logging: the added handler has it, and the service's wrote it at once.
        assert [line["event"] for line in added.lines] == ["http_request"]
        assert json.loads(stream.getvalue())["event"] == "http_request"


def test_request_lines_follow_the_request_loggers_level() -> None:
    logger = logging.getLogger(REQUEST_LOG)
    with the_service_handler() as (lines, handler, stream):
        logger.setLevel(logging.WARNING)
        try:
            lines.write(FIELDS, "request-7", INVALID_SPAN)
        finally:
            logger.setLevel(logging.NOTSET)
        handler.flush()
        assert stream.getvalue() == ""


def test_a_line_that_cannot_be_made_is_reported_not_raised() -> None:
    with the_service_handler() as (lines, handler, stream):
        # JSON has no loops. logging's handler reports it (on stderr) and drops it.
        looped: dict[str, Any] = {"event": "http_request"}
        looped["itself"] = looped
        lines.write(looped, "request-7", INVALID_SPAN)
        handler.flush()
        assert stream.getvalue() == ""


def test_a_line_holds_what_a_client_sent_even_where_utf_8_cannot() -> None:
    # A lone surrogate: valid in a JSON request ("\ud800"), refused by orjson's encoder.
    sent = json.loads('"\\ud800 Images"')
    line = JsonLineFormatter().line(
        0.0, "info", REQUEST_LOG, {"operationName": sent}, None, INVALID_SPAN
    )
    assert json.loads(line)["operationName"] == sent


def test_a_lines_time_is_utc_to_the_millisecond() -> None:
    formatter = JsonLineFormatter()
    assert formatter.timestamp(1700000000.0) == "2023-11-14T22:13:20.000+00:00"
    assert formatter.timestamp(1700000000.125) == "2023-11-14T22:13:20.125+00:00"
    # The next second, and the last millisecond of it (not rounded up into the one after).
    assert formatter.timestamp(1700000001.9996) == "2023-11-14T22:13:21.999+00:00"
    # Within the same millisecond, and the ones after.
    assert formatter.timestamp(1700000001.9999) == "2023-11-14T22:13:21.999+00:00"
    assert formatter.timestamp(1700000002.0) == "2023-11-14T22:13:22.000+00:00"
    assert formatter.timestamp(1700000002.0015) == "2023-11-14T22:13:22.001+00:00"
    assert formatter.timestamp(1700000003.0015) == "2023-11-14T22:13:23.001+00:00"


def test_lines_waiting_are_written_once_there_are_max_lines() -> None:
    stream = io.StringIO()
    handler = BatchedLines(stream, interval=3600, max_lines=3)
    try:
        for index in range(2):
            handler.write(f"line {index}", batched=True)
        assert stream.getvalue() == ""
        handler.write("line 2", batched=True)
        assert stream.getvalue() == "line 0\nline 1\nline 2\n"
    finally:
        handler.close()


def test_a_records_stack_comes_with_its_line() -> None:
    with logged("app") as lines:
        logging.getLogger("app").warning({"event": "odd"}, stack_info=True)
    [line] = lines.lines
    assert line["stack"].startswith("Stack (most recent call last):")
    assert "test_a_records_stack_comes_with_its_line" in line["stack"]
