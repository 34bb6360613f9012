"""One JSON object per log line, so a log shipper (or ``jq``) can read every line the same way.

Code logs a dict for a structured event (``log.info({"event": "targets", ...})``) and a plain
string otherwise; both come out as a single JSON line with time, level and logger. What Python
would otherwise print as raw text, a traceback nothing caught (in any thread) and a warning,
comes out as a record too. The line each request ends with is written by :class:`RequestLines`.

Every line written while a request is served carries the request's id (``requestId``: the
client's ``X-Request-ID``, or one made for it; see ``app.web.middleware``) and, when a trace is
under way (a span of this service, or the ``traceparent`` a caller sent), its ``traceId``, so the
lines of one request can be found together, and beside its spans in a tracing backend. Both come
from context variables, which every task the request starts inherits (its loaders' batches,
its SageMaker calls).
"""

from __future__ import annotations

import json
import logging
import sys
import threading
import time
from collections import deque
from collections.abc import Mapping
from contextvars import ContextVar
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, TextIO

import orjson
from opentelemetry import trace
from opentelemetry.trace import INVALID_SPAN, Span

LOG_LEVELS = ("debug", "info", "warning", "error")


# The id of the request being served (set by app.web.middleware), for every line it logs.
REQUEST_ID: ContextVar[str | None] = ContextVar("request_id", default=None)


# Each millisecond's end of a timestamp, made once: formatting the number with "03d" on every line
# cost three times the lookup.
_MILLISECONDS = tuple(f".{millisecond:03d}+00:00" for millisecond in range(1000))


class JsonLineFormatter(logging.Formatter):
    """A record as one JSON line. A request's line is written on the event loop for every
    request, a cached answer's included, so the work per line is kept small: each second's
    timestamp text is made once, and the line is encoded by orjson (the standard library's
    encoder was 28,000 of a cached answer's 369,000 instructions under callgrind; orjson's
    about 3,500)."""

    def __init__(self) -> None:
        super().__init__()
        # The last second's text, and the last millisecond's: under load, lines come several
        # a millisecond.
        self.second: tuple[int, str] = (-1, "")
        self.millisecond: tuple[int, str] = (-1, "")

    def timestamp(self, created: float) -> str:
        """``created`` in ISO 8601, to the millisecond, in UTC."""
        whole = int(created)
        millisecond = int((created - whole) * 1000)
        since_epoch = whole * 1000 + millisecond
        last, text = self.millisecond
        if since_epoch == last:
            return text
        second, second_text = self.second
        if whole != second:
            second_text = datetime.fromtimestamp(whole, UTC).strftime("%Y-%m-%dT%H:%M:%S")
            self.second = (whole, second_text)
        text = second_text + _MILLISECONDS[millisecond]
        self.millisecond = (since_epoch, text)
        return text

    def format(self, record: logging.LogRecord) -> str:
        return self.line(
            record.created,
            record.levelname.lower(),
            record.name,
            record.msg if isinstance(record.msg, dict) else record.getMessage(),
            REQUEST_ID.get(),
            trace.get_current_span(),
            self.formatException(record.exc_info) if record.exc_info else None,
            self.formatStack(record.stack_info) if record.stack_info else None,
        )

    def line(
        self,
        created: float,
        level: str,
        logger: str,
        event: Mapping[str, Any] | str,
        request_id: str | None,
        span: Span,
        exception: str | None = None,
        stack: str | None = None,
    ) -> str:
        """The line of ``event`` (its fields, or a message), logged by ``logger`` at ``created``
        (seconds since the epoch) while serving ``request_id`` in ``span``'s trace, with the
        traceback of an ``exception`` and the ``stack`` it was logged from when the record
        carries them."""
        line: dict[str, Any] = {
            "time": self.timestamp(created),
            "level": level,
            "logger": logger,
        }
        if request_id is not None:
            line["requestId"] = request_id
        # Most lines are in no trace: the one span that says so needs no look inside.
        if span is not INVALID_SPAN:
            context = span.get_span_context()
            if context.is_valid:
                line["traceId"] = trace.format_trace_id(context.trace_id)
        if isinstance(event, str):
            line["message"] = event
        else:
            line.update(event)
        if exception is not None:
            line["exception"] = exception
        if stack is not None:
            line["stack"] = stack
        try:
            return orjson.dumps(line, default=str).decode()
        except orjson.JSONEncodeError:
            # What orjson refuses and JSON can still say: a lone surrogate (a client can send
            # one as "\ud800" in an operation name), which the standard library escapes, and
            # an integer beyond 64 bits.
            return json.dumps(line, default=str, separators=(",", ":"))


class BatchedLines(logging.StreamHandler[TextIO]):
    """Lines written to the stream in batches, instead of one write and flush each.

    Every request ends with a line (:class:`RequestLines`). Written one at a time, each is a
    system call, and on a pipe (a container's stderr) a wake-up of the reader too: measured on
    an answer from the response cache, 0.04 ms of CPU a line to a file and 0.07 ms to a pipe,
    on top of the answer's 0.17. So lines given to :meth:`write` as ``batched`` wait in memory,
    for at most ``interval`` seconds (a thread writes them) or until ``max_lines`` are waiting.
    Any other line, every record logged through ``logging`` among them, is written at once,
    after those waiting: the rare ones (start-up, shutdown, warnings) are out as soon as they
    are logged, however the process then ends (uvicorn's worker ends by raising the SIGTERM it
    caught, which runs no exit handler). A process killed outright loses at most ``interval``
    seconds of request lines.

    A waiting line takes no lock: it joins a deque (an atomic append from any thread), and
    only what writes them out takes the handler's lock, so the lines leave in the order they
    came.
    """

    def __init__(self, stream: TextIO, interval: float, max_lines: int = 256) -> None:
        super().__init__(stream)
        self.interval = interval
        self.max_lines = max_lines
        self.waiting: deque[str] = deque()
        self.closed = threading.Event()
        threading.Thread(target=self._write_every_interval, name="log-lines", daemon=True).start()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record)
        except Exception:
            self.handleError(record)
            return
        self.write(line, batched=False)

    def write(self, line: str, batched: bool) -> None:
        """Write ``line`` after those waiting: now, or with the next batch when ``batched``."""
        self.waiting.append(line)
        if not batched or len(self.waiting) >= self.max_lines:
            self.flush()

    def flush(self) -> None:
        self.acquire()
        try:
            # Only this takes lines, under the lock: however many another thread adds
            # meanwhile, these many are there.
            lines = [self.waiting.popleft() for _ in range(len(self.waiting))]
            if not lines:
                return
            self.stream.write("\n".join(lines) + "\n")
            self.stream.flush()
        except (OSError, ValueError):
            pass  # The stream is gone (a closed pipe): there is nowhere to write to.
        finally:
            self.release()

    def close(self) -> None:
        self.closed.set()
        self.flush()
        super().close()

    def _write_every_interval(self) -> None:
        while not self.closed.wait(self.interval):
            self.flush()


# The logger of the line each HTTP request ends with (app.web.middleware.RequestLog).
REQUEST_LOG = "app.requests"


class RequestLines:
    """Where the line each HTTP request ends with goes: the ``REQUEST_LOG`` logger's line, at
    ``INFO``.

    It is the one line written for every request, a cached answer's included, and through
    ``logging`` it was a fifth of such an answer's instructions (87,000 of 398,000 under
    callgrind): a ``LogRecord``, the walk through loggers, filters, handlers and their locks,
    and then the line. Once :func:`configure_logging` has put the service's own handler in
    place, and while nothing else would see the record (no filter on ``REQUEST_LOG``, no
    handler on the way to the root but that one), the line is made with the handler's formatter
    and handed to it, waiting for the next batch, with no record: 58,000 instructions, and
    24,000 with orjson's encoder. Otherwise (an app built inside a test, a handler or filter
    added since, a line that cannot be encoded), it is logged to ``REQUEST_LOG`` as any other
    line is, for whatever handlers and filters are there.
    """

    def __init__(self) -> None:
        self.logger = logging.getLogger(REQUEST_LOG)
        # The service's handler and its formatter, once configure_logging set them up.
        self.direct: tuple[BatchedLines, JsonLineFormatter] | None = None

    def write(self, fields: Mapping[str, Any], request_id: str, span: Span) -> None:
        """The line of the request ``request_id``, served in ``span``, whose facts are
        ``fields``."""
        if not self.logger.isEnabledFor(logging.INFO):
            return
        if self.direct is None or not self._seen_by_alone(self.direct[0]):
            self.logger.info(fields)
            return
        handler, formatter = self.direct
        try:
            line = formatter.line(time.time(), "info", REQUEST_LOG, fields, request_id, span)
        except Exception:
            # Through logging, whose handler reports a line it cannot make (handleError), and
            # the request goes on.
            self.logger.info(fields)
            return
        handler.write(line, batched=True)

    def _seen_by_alone(self, handler: logging.Handler) -> bool:
        """Whether ``handler`` is all that a record of ``REQUEST_LOG`` would meet: a few
        attribute reads, against the walk a record makes."""
        if self.logger.filters:
            return False
        logger = self.logger
        while logger.parent is not None:
            if logger.handlers or not logger.propagate:
                return False
            logger = logger.parent
        return len(logger.handlers) == 1 and logger.handlers[0] is handler


REQUEST_LINES = RequestLines()

# How long a request's line may wait to be written with others (BatchedLines).
LINE_BATCH_SECONDS = 0.1


def configure_logging(level: str) -> None:
    """Send every logger's records to stderr as JSON lines, uvicorn's included, and uncaught
    exceptions and warnings with them."""
    handler = BatchedLines(sys.stderr, LINE_BATCH_SECONDS)
    formatter = JsonLineFormatter()
    handler.setFormatter(formatter)
    root = logging.getLogger()
    for replaced in root.handlers:
        replaced.close()
    root.handlers[:] = [handler]
    REQUEST_LINES.direct = (handler, formatter)
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    logging.captureWarnings(True)
    # What a record would gather and no line prints or filter reads: the caller's frame, the
    # process id and multiprocessing's process name (the logging HOWTO's "Optimization"). The
    # thread stays: app.server_thread's filter reads it.
    logging._srcfile = None
    logging.logProcesses = False
    logging.logMultiprocessing = False
    sys.excepthook = log_uncaught
    threading.excepthook = _log_uncaught_in_thread


def log_uncaught(
    kind: type[BaseException], error: BaseException, traceback: TracebackType | None
) -> None:
    """Log an exception nothing caught, which ends the process or thread it was raised in."""
    logging.getLogger("app").critical(
        {"event": "uncaught_exception", "error": kind.__name__}, exc_info=(kind, error, traceback)
    )


def _log_uncaught_in_thread(uncaught: threading.ExceptHookArgs) -> None:
    # A thread ended by SystemExit ends quietly, as Python's own hook has it.
    if uncaught.exc_value is not None and not issubclass(uncaught.exc_type, SystemExit):
        log_uncaught(uncaught.exc_type, uncaught.exc_value, uncaught.exc_traceback)
