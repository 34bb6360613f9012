"""The endpoint's SQLite database: its tables and the one transaction every operation runs in.

Concurrency: an operation runs in one ``BEGIN IMMEDIATE`` transaction under a lock, so requests
served from several threads (or several processes sharing a file in WAL mode) never see or leave
a half-applied change.

Lifecycle: a new image or version starts ``CREATING`` and becomes ``CREATED`` once its
``settles_at`` time has passed (``CREATE_FAILED`` when it was made with a ``failure_reason``, as a
version of a failing base image is); an updated image is ``UPDATING`` until then; a deleted one is
``DELETING`` until then and then gone. Each transaction first applies the transitions whose time
has come (:func:`_settle`), so there is no background task to start, stop or race with.

Times are epoch seconds in whole milliseconds, as AWS keeps them (:func:`milliseconds`): a time
read from an answer and sent back as a filter bound then equals the stored one exactly.

Image names are case-insensitive, as in SageMaker: every name column collates ``NOCASE``.
"""

from __future__ import annotations

import math
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import ROUND_FLOOR, Decimal
from typing import Any

_SCHEMA = """
CREATE TABLE IF NOT EXISTS images (
    name            TEXT PRIMARY KEY COLLATE NOCASE,
    arn             TEXT NOT NULL,
    display_name    TEXT,
    description     TEXT,
    role_arn        TEXT NOT NULL,
    status          TEXT NOT NULL,
    failure_reason  TEXT,
    next_version    INTEGER NOT NULL DEFAULT 1,
    created         REAL NOT NULL,
    modified        REAL NOT NULL,
    settles_at      REAL NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS image_versions (
    image_name        TEXT NOT NULL COLLATE NOCASE REFERENCES images(name) ON DELETE CASCADE,
    version           INTEGER NOT NULL,
    arn               TEXT NOT NULL,
    base_image        TEXT NOT NULL,
    container_image   TEXT,
    status            TEXT NOT NULL,
    failure_reason    TEXT,
    vendor_guidance   TEXT,
    job_type          TEXT,
    ml_framework      TEXT,
    programming_lang  TEXT,
    processor         TEXT,
    horovod           INTEGER,
    release_notes     TEXT,
    client_token      TEXT,
    created           REAL NOT NULL,
    modified          REAL NOT NULL,
    settles_at        REAL NOT NULL DEFAULT 0,
    PRIMARY KEY (image_name, version)
);
CREATE UNIQUE INDEX IF NOT EXISTS image_versions_token
    ON image_versions (image_name, client_token);
CREATE INDEX IF NOT EXISTS image_versions_status ON image_versions (status);
CREATE INDEX IF NOT EXISTS images_status ON images (status);
CREATE TABLE IF NOT EXISTS image_tags (
    image_name  TEXT NOT NULL COLLATE NOCASE REFERENCES images(name) ON DELETE CASCADE,
    key         TEXT NOT NULL,
    value       TEXT NOT NULL,
    PRIMARY KEY (image_name, key)
);
CREATE TABLE IF NOT EXISTS aliases (
    image_name  TEXT NOT NULL COLLATE NOCASE,
    alias       TEXT NOT NULL,
    version     INTEGER NOT NULL,
    PRIMARY KEY (image_name, alias),
    FOREIGN KEY (image_name, version)
        REFERENCES image_versions (image_name, version) ON DELETE CASCADE
);
"""

# The optional fields a version is created, described and updated with: AWS member -> column.
VERSION_FIELDS = {
    "VendorGuidance": "vendor_guidance",
    "JobType": "job_type",
    "MLFramework": "ml_framework",
    "ProgrammingLang": "programming_lang",
    "Processor": "processor",
    "Horovod": "horovod",
    "ReleaseNotes": "release_notes",
}


def milliseconds(seconds: float) -> float:
    """``seconds`` cut to whole milliseconds, below which AWS keeps no time.

    Cut in decimal, from the float's shortest spelling (the one JSON carries): ``x.123`` is
    stored as the nearest double and times 1000 may land just under ``x123``, which ``floor``
    of the binary product would cut to the millisecond before.
    """
    if not math.isfinite(seconds):
        return seconds
    thousandths = (Decimal(repr(seconds)) * 1000).to_integral_value(rounding=ROUND_FLOOR)
    return float(thousandths / 1000)


class Database:
    """One SQLite connection shared by the endpoint's threads, used only through
    :meth:`transaction`."""

    def __init__(self, path: str, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA foreign_keys = ON")
        self._db.execute("PRAGMA busy_timeout = 5000")
        if path != ":memory:":
            self._db.execute("PRAGMA journal_mode = WAL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """The connection inside a settled ``BEGIN IMMEDIATE`` transaction, committed when the
        block ends and rolled back if it raises."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                _settle(self._db, self._clock())
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")


def _settle(db: sqlite3.Connection, now: float) -> None:
    """Apply the lifecycle transitions whose time has come."""
    for table in ("images", "image_versions"):
        db.execute(
            f"UPDATE {table} SET modified = settles_at, status = CASE "  # noqa: S608
            "WHEN failure_reason IS NULL THEN 'CREATED' ELSE 'CREATE_FAILED' END "
            "WHERE status = 'CREATING' AND settles_at <= ?",
            (now,),
        )
    db.execute(
        "UPDATE images SET status = 'CREATED', modified = settles_at "
        "WHERE status = 'UPDATING' AND settles_at <= ?",
        (now,),
    )
    db.execute("DELETE FROM image_versions WHERE status = 'DELETING' AND settles_at <= ?", (now,))
    db.execute("DELETE FROM images WHERE status = 'DELETING' AND settles_at <= ?", (now,))


def insert(db: sqlite3.Connection, table: str, row: dict[str, Any]) -> None:
    # Table and column names come from the store's own literals, never from a request.
    columns, marks = ", ".join(row), ", ".join("?" * len(row))
    db.execute(f"INSERT INTO {table} ({columns}) VALUES ({marks})", tuple(row.values()))  # noqa: S608
