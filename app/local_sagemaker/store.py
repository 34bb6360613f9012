"""SageMaker images and image versions in SQLite, with the semantics of the real API.

Each public method is one SageMaker operation: it takes the operation's input structure (already
checked against the service model by the caller) and returns its output structure, both with AWS's
member names, or raises :class:`AwsError` as AWS would (``ResourceNotFound``, ``ResourceInUse``,
``ValidationException``).

Lifecycle follows AWS: a new image or version starts ``CREATING`` and becomes ``CREATED`` once
``transition_delay`` seconds have passed; a deleted one is ``DELETING`` for that long and then
gone. Transitions are applied lazily at the start of every operation (:meth:`_settle`), so there
is no background task to start, stop or race with.

Concurrency: every operation runs in one ``BEGIN IMMEDIATE`` transaction under a lock, so requests
served from several threads (or several processes sharing a file in WAL mode) never see or leave
a half-applied change. Image names are case-insensitive, as in SageMaker, whose version ARNs carry
the name in lower case.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from app.local_sagemaker.protocol import AwsError

DEFAULT_PAGE_SIZE = 10

# Seeded transitional states (a version shown as DELETING) are frozen: they never settle.
_NEVER = float("inf")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS images (
    name            TEXT PRIMARY KEY COLLATE NOCASE,
    arn             TEXT NOT NULL,
    display_name    TEXT,
    description     TEXT,
    role_arn        TEXT NOT NULL,
    status          TEXT NOT NULL,
    failure_reason  TEXT,
    tags            TEXT NOT NULL DEFAULT '[]',
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
CREATE TABLE IF NOT EXISTS aliases (
    image_name  TEXT NOT NULL COLLATE NOCASE,
    alias       TEXT NOT NULL,
    version     INTEGER NOT NULL,
    PRIMARY KEY (image_name, alias),
    FOREIGN KEY (image_name, version)
        REFERENCES image_versions (image_name, version) ON DELETE CASCADE
);
"""

# The optional describe/update fields of a version: AWS member name -> column.
_VERSION_FIELDS = {
    "VendorGuidance": "vendor_guidance",
    "JobType": "job_type",
    "MLFramework": "ml_framework",
    "ProgrammingLang": "programming_lang",
    "Processor": "processor",
    "Horovod": "horovod",
    "ReleaseNotes": "release_notes",
}

# Sort keys of the list operations: API value -> column. A second column breaks ties so that
# keyset pagination visits every row exactly once.
_IMAGE_SORT = {"CREATION_TIME": "created", "LAST_MODIFIED_TIME": "modified", "IMAGE_NAME": "name"}
_VERSION_SORT = {"CREATION_TIME": "created", "LAST_MODIFIED_TIME": "modified", "VERSION": "version"}
_TIME_FILTERS = {
    "CreationTimeAfter": "created > ?",
    "CreationTimeBefore": "created < ?",
    "LastModifiedTimeAfter": "modified > ?",
    "LastModifiedTimeBefore": "modified < ?",
}


class ImageStore:
    """The endpoint's state. One instance per endpoint; safe to call from several threads."""

    def __init__(
        self,
        path: str = ":memory:",
        *,
        region: str = "us-east-1",
        account_id: str = "123456789012",
        transition_delay: float = 0.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.region = region
        self.account_id = account_id
        self.transition_delay = transition_delay
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
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._settle(self._clock())
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _settle(self, now: float) -> None:
        """Apply the lifecycle transitions whose time has come."""
        db = self._db
        for table in ("images", "image_versions"):
            db.execute(
                f"UPDATE {table} SET status = 'CREATED', modified = settles_at "  # noqa: S608
                "WHERE status = 'CREATING' AND settles_at <= ?",
                (now,),
            )
        db.execute(
            "DELETE FROM image_versions WHERE status = 'DELETING' AND settles_at <= ?", (now,)
        )
        db.execute("DELETE FROM images WHERE status = 'DELETING' AND settles_at <= ?", (now,))

    def is_empty(self) -> bool:
        with self._transaction() as db:
            return db.execute("SELECT 1 FROM images LIMIT 1").fetchone() is None

    # ARNs -----------------------------------------------------------------------------------

    def image_arn(self, name: str) -> str:
        return f"arn:aws:sagemaker:{self.region}:{self.account_id}:image/{name}"

    def image_version_arn(self, name: str, version: int) -> str:
        return (
            f"arn:aws:sagemaker:{self.region}:{self.account_id}"
            f":image-version/{name.lower()}/{version}"
        )

    # Images -----------------------------------------------------------------------------------

    def create_image(self, params: dict[str, Any]) -> dict[str, Any]:
        name = params["ImageName"]
        with self._transaction() as db:
            if _image_row(db, name) is not None:
                raise AwsError("ResourceInUse", f"Image '{name}' already exists")
            now = self._clock()
            arn = self.image_arn(name)
            _insert(
                db,
                "images",
                {
                    "name": name,
                    "arn": arn,
                    "display_name": params.get("DisplayName"),
                    "description": params.get("Description"),
                    "role_arn": params["RoleArn"],
                    "status": self._initial_status(),
                    "tags": json.dumps(params.get("Tags", [])),
                    "created": now,
                    "modified": now,
                    "settles_at": now + self.transition_delay,
                },
            )
        return {"ImageArn": arn}

    def describe_image(self, params: dict[str, Any]) -> dict[str, Any]:
        with self._transaction() as db:
            row = _require_image(db, params["ImageName"])
            return {**_image_summary(row), "RoleArn": row["role_arn"]}

    def delete_image(self, params: dict[str, Any]) -> dict[str, Any]:
        with self._transaction() as db:
            row = _require_image(db, params["ImageName"])
            if row["status"] == "DELETING":
                raise AwsError("ResourceInUse", f"Image '{row['name']}' is already being deleted")
            self._start_deleting(db, "images", "name = ?", (row["name"],))
            self._start_deleting(db, "image_versions", "image_name = ?", (row["name"],))
        return {}

    def list_images(self, params: dict[str, Any]) -> dict[str, Any]:
        where, args = _time_filters(params)
        if params.get("NameContains"):
            where.append("instr(lower(name), lower(?)) > 0")
            args.append(params["NameContains"])
        sort_column = _IMAGE_SORT[params.get("SortBy", "CREATION_TIME")]
        with self._transaction() as db:
            rows, token = _page(db, "images", where, args, sort_column, "name", params)
        return {"Images": [_image_summary(row) for row in rows], **token}

    # Image versions ---------------------------------------------------------------------------

    def create_image_version(self, params: dict[str, Any]) -> dict[str, Any]:
        name = params["ImageName"]
        aliases = params.get("Aliases", [])
        with self._transaction() as db:
            image = _require_image(db, name)
            same_token = db.execute(
                "SELECT arn FROM image_versions WHERE image_name = ? AND client_token = ?",
                (name, params["ClientToken"]),
            ).fetchone()
            if same_token is not None:
                return {"ImageVersionArn": same_token["arn"]}
            if image["status"] == "DELETING":
                raise AwsError("ResourceInUse", f"Image '{image['name']}' is being deleted")
            _check_aliases_free(db, image["name"], aliases, version=None)
            version = image["next_version"]
            now = self._clock()
            arn = self.image_version_arn(image["name"], version)
            _insert(
                db,
                "image_versions",
                {
                    "image_name": image["name"],
                    "version": version,
                    "arn": arn,
                    "base_image": params["BaseImage"],
                    "container_image": _container_image(params["BaseImage"], version),
                    "status": self._initial_status(),
                    "client_token": params["ClientToken"],
                    "created": now,
                    "modified": now,
                    "settles_at": now + self.transition_delay,
                    **_version_fields(params),
                },
            )
            db.execute(
                "UPDATE images SET next_version = ?, modified = ? WHERE name = ?",
                (version + 1, now, image["name"]),
            )
            _add_aliases(db, image["name"], version, aliases)
        return {"ImageVersionArn": arn}

    def describe_image_version(self, params: dict[str, Any]) -> dict[str, Any]:
        with self._transaction() as db:
            row = _resolve_version(db, params)
            return _version_description(row)

    def update_image_version(self, params: dict[str, Any]) -> dict[str, Any]:
        with self._transaction() as db:
            row = _resolve_version(db, params)
            name, version = row["image_name"], row["version"]
            to_add = params.get("AliasesToAdd", [])
            _check_aliases_free(db, name, to_add, version=version)
            for alias in params.get("AliasesToDelete", []):
                db.execute(
                    "DELETE FROM aliases WHERE image_name = ? AND alias = ? AND version = ?",
                    (name, alias, version),
                )
            _add_aliases(db, name, version, to_add)
            changes = {
                column: params[member]
                for member, column in _VERSION_FIELDS.items()
                if member in params
            }
            assignments = "".join(f"{column} = ?, " for column in changes)
            db.execute(
                f"UPDATE image_versions SET {assignments}modified = ? "  # noqa: S608
                "WHERE image_name = ? AND version = ?",
                (*changes.values(), self._clock(), name, version),
            )
            return {"ImageVersionArn": row["arn"]}

    def delete_image_version(self, params: dict[str, Any]) -> dict[str, Any]:
        with self._transaction() as db:
            row = _resolve_version(db, params)
            if row["status"] == "DELETING":
                raise AwsError(
                    "ResourceInUse",
                    f"Version {row['version']} of image '{row['image_name']}' is already being"
                    " deleted",
                )
            self._start_deleting(
                db,
                "image_versions",
                "image_name = ? AND version = ?",
                (row["image_name"], row["version"]),
            )
        return {}

    def list_image_versions(self, params: dict[str, Any]) -> dict[str, Any]:
        where, args = _time_filters(params)
        sort_column = _VERSION_SORT[params.get("SortBy", "CREATION_TIME")]
        with self._transaction() as db:
            image = _require_image(db, params["ImageName"])
            where.append("image_name = ?")
            args.append(image["name"])
            rows, token = _page(
                db,
                "image_versions",
                where,
                args,
                sort_column,
                "version",
                params,
            )
        return {"ImageVersions": [_version_summary(row) for row in rows], **token}

    def list_aliases(self, params: dict[str, Any]) -> dict[str, Any]:
        with self._transaction() as db:
            image = _require_image(db, params["ImageName"])
            where, args = ["image_name = ?"], [image["name"]]
            if "Version" in params:
                _require_version(db, image["name"], params["Version"])
                where.append("version = ?")
                args.append(params["Version"])
            if "Alias" in params:
                where.append("alias = ?")
                args.append(params["Alias"])
            rows, token = _page(
                db,
                "aliases",
                where,
                args,
                "alias",
                "alias",
                {**params, "SortOrder": "ASCENDING"},
            )
        return {"SageMakerImageVersionAliases": [row["alias"] for row in rows], **token}

    # Seeding ----------------------------------------------------------------------------------

    def insert_seed_image(self, image: dict[str, Any], versions: list[dict[str, Any]]) -> None:
        """Insert an image and its versions exactly as given (statuses and times included).

        The demo seed uses this to show every state a real account can hold, which the create
        operations alone cannot produce (a CREATE_FAILED version, an ARCHIVED one, ...).
        """
        with self._transaction() as db:
            name = image["ImageName"]
            _insert(
                db,
                "images",
                {
                    "name": name,
                    "arn": self.image_arn(name),
                    "display_name": image.get("DisplayName"),
                    "description": image.get("Description"),
                    "role_arn": image["RoleArn"],
                    "status": image["ImageStatus"],
                    "failure_reason": image.get("FailureReason"),
                    "next_version": max((v["Version"] for v in versions), default=0) + 1,
                    "created": image["CreationTime"],
                    "modified": image["LastModifiedTime"],
                    "settles_at": _NEVER,
                },
            )
            for v in versions:
                _insert(
                    db,
                    "image_versions",
                    {
                        "image_name": name,
                        "version": v["Version"],
                        "arn": self.image_version_arn(name, v["Version"]),
                        "base_image": v["BaseImage"],
                        "container_image": v.get("ContainerImage"),
                        "status": v["ImageVersionStatus"],
                        "failure_reason": v.get("FailureReason"),
                        "created": v["CreationTime"],
                        "modified": v["LastModifiedTime"],
                        "settles_at": _NEVER,
                        **_version_fields(v),
                    },
                )
                _add_aliases(db, name, v["Version"], v.get("Aliases", []))

    # Lifecycle helpers --------------------------------------------------------------------------

    def _initial_status(self) -> str:
        return "CREATING" if self.transition_delay > 0 else "CREATED"

    def _start_deleting(
        self, db: sqlite3.Connection, table: str, where: str, args: tuple[Any, ...]
    ) -> None:
        now = self._clock()
        if self.transition_delay > 0:
            db.execute(
                f"UPDATE {table} SET status = 'DELETING', modified = ?, settles_at = ? "  # noqa: S608
                f"WHERE {where}",
                (now, now + self.transition_delay, *args),
            )
        else:
            db.execute(f"DELETE FROM {table} WHERE {where}", args)  # noqa: S608


def _insert(db: sqlite3.Connection, table: str, row: dict[str, Any]) -> None:
    # Table and column names come from this module's own literals, never from a request.
    columns, marks = ", ".join(row), ", ".join("?" * len(row))
    db.execute(f"INSERT INTO {table} ({columns}) VALUES ({marks})", tuple(row.values()))  # noqa: S608


def _version_fields(source: dict[str, Any]) -> dict[str, Any]:
    """The optional version fields of a request or seed entry, keyed by column."""
    return {column: source.get(member) for member, column in _VERSION_FIELDS.items()}


# Row lookups ------------------------------------------------------------------------------------


def _image_row(db: sqlite3.Connection, name: str) -> sqlite3.Row | None:
    row: sqlite3.Row | None = db.execute("SELECT * FROM images WHERE name = ?", (name,)).fetchone()
    return row


def _require_image(db: sqlite3.Connection, name: str) -> sqlite3.Row:
    row = _image_row(db, name)
    if row is None:
        raise AwsError("ResourceNotFound", f"Image '{name}' does not exist")
    return row


def _require_version(db: sqlite3.Connection, name: str, version: int) -> sqlite3.Row:
    row: sqlite3.Row | None = db.execute(
        "SELECT * FROM image_versions WHERE image_name = ? AND version = ?", (name, version)
    ).fetchone()
    if row is None:
        raise AwsError("ResourceNotFound", f"Version {version} of image '{name}' does not exist")
    return row


def _resolve_version(db: sqlite3.Connection, params: dict[str, Any]) -> sqlite3.Row:
    """The version named by ``Version`` or ``Alias``; the latest when neither is given."""
    image = _require_image(db, params["ImageName"])
    name = image["name"]
    if "Version" in params and "Alias" in params:
        raise AwsError("ValidationException", "Specify either Version or Alias, not both")
    if "Version" in params:
        return _require_version(db, name, params["Version"])
    if "Alias" in params:
        alias = db.execute(
            "SELECT version FROM aliases WHERE image_name = ? AND alias = ?",
            (name, params["Alias"]),
        ).fetchone()
        if alias is None:
            raise AwsError(
                "ResourceNotFound", f"Alias '{params['Alias']}' of image '{name}' does not exist"
            )
        return _require_version(db, name, alias["version"])
    latest: sqlite3.Row | None = db.execute(
        "SELECT * FROM image_versions WHERE image_name = ? ORDER BY version DESC LIMIT 1", (name,)
    ).fetchone()
    if latest is None:
        raise AwsError("ResourceNotFound", f"Image '{name}' has no versions")
    return latest


def _check_aliases_free(
    db: sqlite3.Connection, name: str, aliases: list[str], version: int | None
) -> None:
    for alias in aliases:
        owner = db.execute(
            "SELECT version FROM aliases WHERE image_name = ? AND alias = ?", (name, alias)
        ).fetchone()
        if owner is not None and owner["version"] != version:
            raise AwsError(
                "ResourceInUse",
                f"Alias '{alias}' already names version {owner['version']} of image '{name}'",
            )


def _add_aliases(db: sqlite3.Connection, name: str, version: int, aliases: list[str]) -> None:
    db.executemany(
        "INSERT OR IGNORE INTO aliases (image_name, alias, version) VALUES (?, ?, ?)",
        [(name, alias, version) for alias in aliases],
    )


def _container_image(base_image: str, version: int) -> str:
    # SageMaker copies the base image into its own registry; the local endpoint keeps the
    # repository and pins the tag to the version so that each version has its own reference.
    repository = base_image.rsplit(":", 1)[0] if "/" in base_image else base_image
    return f"{repository}:v{version}"


# Output structures --------------------------------------------------------------------------------


def _without_nulls(fields: dict[str, Any]) -> dict[str, Any]:
    # AWS omits absent members instead of sending null.
    return {key: value for key, value in fields.items() if value is not None}


def _image_summary(row: sqlite3.Row) -> dict[str, Any]:
    return _without_nulls(
        {
            "CreationTime": row["created"],
            "Description": row["description"],
            "DisplayName": row["display_name"],
            "FailureReason": row["failure_reason"],
            "ImageArn": row["arn"],
            "ImageName": row["name"],
            "ImageStatus": row["status"],
            "LastModifiedTime": row["modified"],
        }
    )


def _version_summary(row: sqlite3.Row) -> dict[str, Any]:
    return _without_nulls(
        {
            "CreationTime": row["created"],
            "FailureReason": row["failure_reason"],
            # The version row holds no image ARN; it shares the version ARN's region and account.
            "ImageArn": f"{row['arn'].split(':image-version/')[0]}:image/{row['image_name']}",
            "ImageVersionArn": row["arn"],
            "ImageVersionStatus": row["status"],
            "LastModifiedTime": row["modified"],
            "Version": row["version"],
        }
    )


def _version_description(row: sqlite3.Row) -> dict[str, Any]:
    horovod = row["horovod"]
    return _without_nulls(
        {
            **_version_summary(row),
            "BaseImage": row["base_image"],
            "ContainerImage": row["container_image"],
            **{member: row[column] for member, column in _VERSION_FIELDS.items()},
            "Horovod": None if horovod is None else bool(horovod),
        }
    )


# Listing and pagination ---------------------------------------------------------------------------


def _time_filters(params: dict[str, Any]) -> tuple[list[str], list[Any]]:
    where = [clause for member, clause in _TIME_FILTERS.items() if member in params]
    return where, [params[member] for member in _TIME_FILTERS if member in params]


def _fingerprint(params: dict[str, Any]) -> str:
    """A digest of a listing's filters, so a token cannot be replayed against another query."""
    query = {k: v for k, v in params.items() if k not in ("NextToken", "MaxResults")}
    return hashlib.sha256(json.dumps(query, sort_keys=True).encode()).hexdigest()[:16]


def _encode_token(position: list[Any], fingerprint: str) -> str:
    raw = json.dumps({"after": position, "query": fingerprint}).encode()
    return base64.urlsafe_b64encode(raw).decode()


def _decode_token(token: str, fingerprint: str) -> list[Any]:
    try:
        decoded = json.loads(base64.urlsafe_b64decode(token.encode()))
        position = decoded["after"]
        valid = decoded["query"] == fingerprint and isinstance(position, list)
    except (binascii.Error, ValueError, KeyError, TypeError):
        valid = False
    if not valid or len(position) != 2:
        raise AwsError("ValidationException", "The NextToken is not valid for this request")
    return list(position)


def _page(
    db: sqlite3.Connection,
    table: str,
    where: list[str],
    args: list[Any],
    sort_column: str,
    tiebreak_column: str,
    params: dict[str, Any],
) -> tuple[list[sqlite3.Row], dict[str, str]]:
    """One page of ``table`` in the requested order, by keyset so that rows are never repeated
    or skipped while paging, whatever is inserted meanwhile. Returns the rows and, when more
    remain, ``{"NextToken": ...}``."""
    descending = params.get("SortOrder", "DESCENDING") == "DESCENDING"
    direction, comparison = ("DESC", "<") if descending else ("ASC", ">")
    digest = _fingerprint(params)
    where, args = list(where), list(args)
    if "NextToken" in params:
        where.append(f"({sort_column}, {tiebreak_column}) {comparison} (?, ?)")
        args.extend(_decode_token(params["NextToken"], digest))
    limit = params.get("MaxResults", DEFAULT_PAGE_SIZE)
    sql = (
        f"SELECT * FROM {table} WHERE {' AND '.join(where) or '1'} "  # noqa: S608
        f"ORDER BY {sort_column} {direction}, {tiebreak_column} {direction} LIMIT ?"
    )
    rows = db.execute(sql, (*args, limit + 1)).fetchall()
    if len(rows) <= limit:
        return rows, {}
    last = rows[limit - 1]
    token = _encode_token([last[sort_column], last[tiebreak_column]], digest)
    return rows[:limit], {"NextToken": token}
