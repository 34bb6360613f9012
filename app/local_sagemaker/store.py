"""SageMaker images and image versions with the semantics of the real API.

Each public method is one SageMaker operation: it takes the operation's input structure (already
checked against the service model by the caller) and returns its output structure, both with AWS's
member names, or raises :class:`AwsError` as AWS would (``ResourceNotFound``, ``ResourceInUse``,
``ValidationException``). Only images carry tags here, as only they take them on creation. The
methods hold the operations' rules; the modules around them hold what several operations share:

=======================  ========================================================================
:mod:`.database`         the tables, the transaction each operation runs in, lazy lifecycle
:mod:`.rows`             finding the image, version or alias a request names, with AWS's errors
:mod:`.outputs`          the output structures built from rows
:mod:`.listing`          time filters, sort orders, keyset pages and their tokens
:mod:`.arns`             the ARNs of images and versions
:mod:`.container_images` the ``ContainerImage`` of a new version
=======================  ========================================================================
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from typing import Any

from app.local_sagemaker import listing, outputs, rows
from app.local_sagemaker.arns import Arns
from app.local_sagemaker.container_images import container_image
from app.local_sagemaker.database import VERSION_FIELDS, Database, insert, milliseconds
from app.local_sagemaker.protocol import AwsError

# Seeded transitional states (a version shown as DELETING) are frozen: they never settle.
_NEVER = float("inf")
# The members UpdateImage sets or, named in DeleteProperties, removes: member -> column.
_IMAGE_PROPERTIES = {"DisplayName": "display_name", "Description": "description"}
# An image being made, changed or removed takes no other change meanwhile.
_TRANSITIONAL = ("CREATING", "UPDATING", "DELETING")


class ImageStore:
    """The endpoint's state. One instance per endpoint; safe to call from several threads.

    A new image or version starts ``CREATING`` and a deleted one is ``DELETING`` for
    ``transition_delay`` seconds; with no delay, both happen at once.

    ``base_image_failure`` says why a version of a base image fails to build (``None``: it
    builds); the endpoint hands it its fault plan's, so tests can make versions end
    ``CREATE_FAILED``.
    """

    def __init__(
        self,
        path: str = ":memory:",
        *,
        region: str = "us-east-1",
        account_id: str = "123456789012",
        transition_delay: float = 0.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.arns = Arns(region, account_id)
        self.transition_delay = transition_delay
        self.base_image_failure: Callable[[str], str | None] = lambda base_image: None
        self._clock = clock
        self._database = Database(path, clock)

    def close(self) -> None:
        self._database.close()

    def is_empty(self) -> bool:
        with self._database.transaction() as db:
            return db.execute("SELECT 1 FROM images LIMIT 1").fetchone() is None

    # Images -----------------------------------------------------------------------------------

    def create_image(self, params: dict[str, Any]) -> dict[str, Any]:
        name = params["ImageName"]
        tags = params.get("Tags", [])
        _check_tags(tags)
        with self._database.transaction() as db:
            if rows.image_row(db, name) is not None:
                raise AwsError(
                    "ResourceInUse",
                    f"The Image with ImageName {name} already exists."
                    " Please use a different ImageName.",
                )
            now = self._now()
            arn = self.arns.image(name)
            insert(
                db,
                "images",
                {
                    "name": name,
                    "arn": arn,
                    "display_name": params.get("DisplayName"),
                    "description": params.get("Description"),
                    "role_arn": params["RoleArn"],
                    "status": self._initial_status(),
                    "created": now,
                    "modified": now,
                    "settles_at": self._settles_at(now),
                },
            )
            _put_tags(db, name, tags)
        return {"ImageArn": arn}

    def describe_image(self, params: dict[str, Any]) -> dict[str, Any]:
        with self._database.transaction() as db:
            return outputs.image_description(rows.require_image(db, params["ImageName"]))

    def update_image(self, params: dict[str, Any]) -> dict[str, Any]:
        deleted = params.get("DeleteProperties", [])
        both = sorted(set(deleted) & set(params))
        if both:
            raise AwsError(
                "ValidationException",
                f"Cannot both set and delete {', '.join(both)} in one UpdateImage request",
            )
        with self._database.transaction() as db:
            row = rows.require_image(db, params["ImageName"])
            if row["status"] in _TRANSITIONAL:
                raise AwsError(
                    "ResourceInUse",
                    f"Image {row['name']} is {row['status']} and cannot be updated now.",
                )
            if row["status"] not in ("CREATED", "UPDATE_FAILED"):
                # The words AWS uses when a version is added to an image in such a state.
                raise AwsError(
                    "ValidationException", f"Image {row['name']} is in an invalid state."
                )
            changes = {
                column: params.get(member)
                for member, column in _IMAGE_PROPERTIES.items()
                if member in params or member in deleted
            }
            if "RoleArn" in params:
                changes["role_arn"] = params["RoleArn"]
            now = self._now()
            status = "UPDATING" if self.transition_delay > 0 else "CREATED"
            assignments = "".join(f"{column} = ?, " for column in changes)
            db.execute(
                f"UPDATE images SET {assignments}status = ?, failure_reason = NULL, "  # noqa: S608
                "modified = ?, settles_at = ? WHERE name = ?",
                (*changes.values(), status, now, self._settles_at(now), row["name"]),
            )
        return {"ImageArn": row["arn"]}

    def delete_image(self, params: dict[str, Any]) -> dict[str, Any]:
        with self._database.transaction() as db:
            row = rows.require_image(db, params["ImageName"])
            if row["status"] == "DELETING":
                raise AwsError("ResourceInUse", f"Image '{row['name']}' is already being deleted")
            self._start_deleting(db, "images", "name = ?", (row["name"],))
            self._start_deleting(db, "image_versions", "image_name = ?", (row["name"],))
        return {}

    def list_images(self, params: dict[str, Any]) -> dict[str, Any]:
        where, args = listing.time_filters(params)
        if params.get("NameContains"):
            where.append("instr(lower(name), lower(?)) > 0")
            args.append(params["NameContains"])
        sort_column = listing.IMAGE_SORT[params.get("SortBy", "CREATION_TIME")]
        with self._database.transaction() as db:
            found, token = listing.page(db, "images", where, args, sort_column, "name", params)
        return {"Images": [outputs.image_summary(row) for row in found], **token}

    # Image versions ---------------------------------------------------------------------------

    def create_image_version(self, params: dict[str, Any]) -> dict[str, Any]:
        name = params["ImageName"]
        aliases = params.get("Aliases", [])
        with self._database.transaction() as db:
            image = rows.require_image(db, name)
            same_token = db.execute(
                "SELECT arn FROM image_versions WHERE image_name = ? AND client_token = ?",
                (name, params["ClientToken"]),
            ).fetchone()
            if same_token is not None:
                return {"ImageVersionArn": same_token["arn"]}
            if image["status"] != "CREATED":
                # AWS's words, for an image still creating, being deleted or that failed.
                raise AwsError(
                    "ValidationException", f"Image {image['name']} is in an invalid state."
                )
            rows.check_aliases_free(db, image["name"], aliases, version=None)
            version = image["next_version"]
            now = self._now()
            arn = self.arns.image_version(image["name"], version)
            failure = self.base_image_failure(params["BaseImage"])
            insert(
                db,
                "image_versions",
                {
                    "image_name": image["name"],
                    "version": version,
                    "arn": arn,
                    "base_image": params["BaseImage"],
                    "container_image": container_image(params["BaseImage"]),
                    "status": self._initial_status(failure),
                    "failure_reason": failure,
                    "client_token": params["ClientToken"],
                    "created": now,
                    "modified": now,
                    "settles_at": self._settles_at(now),
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
        with self._database.transaction() as db:
            return outputs.version_description(rows.resolve_version(db, params))

    def update_image_version(self, params: dict[str, Any]) -> dict[str, Any]:
        with self._database.transaction() as db:
            row = rows.resolve_version(db, params)
            name, version = row["image_name"], row["version"]
            to_add = params.get("AliasesToAdd", [])
            rows.check_aliases_free(db, name, to_add, version=version)
            for alias in params.get("AliasesToDelete", []):
                db.execute(
                    "DELETE FROM aliases WHERE image_name = ? AND alias = ? AND version = ?",
                    (name, alias, version),
                )
            _add_aliases(db, name, version, to_add)
            changes = {
                column: params[member]
                for member, column in VERSION_FIELDS.items()
                if member in params
            }
            assignments = "".join(f"{column} = ?, " for column in changes)
            db.execute(
                f"UPDATE image_versions SET {assignments}modified = ? "  # noqa: S608
                "WHERE image_name = ? AND version = ?",
                (*changes.values(), self._now(), name, version),
            )
            return {"ImageVersionArn": row["arn"]}

    def delete_image_version(self, params: dict[str, Any]) -> dict[str, Any]:
        if "Version" not in params and "Alias" not in params:
            # Unlike describing, deleting has no "latest" default in AWS: it must be named.
            raise AwsError("ValidationException", "Either Version or Alias must be specified")
        with self._database.transaction() as db:
            row = rows.resolve_version(db, params)
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
        where, args = listing.time_filters(params)
        sort_column = listing.VERSION_SORT[params.get("SortBy", "CREATION_TIME")]
        with self._database.transaction() as db:
            image = rows.require_image(db, params["ImageName"])
            where.append("image_name = ?")
            args.append(image["name"])
            found, token = listing.page(
                db, "image_versions", where, args, sort_column, "version", params
            )
        return {"ImageVersions": [outputs.version_summary(row) for row in found], **token}

    def list_aliases(self, params: dict[str, Any]) -> dict[str, Any]:
        with self._database.transaction() as db:
            image = rows.require_image(db, params["ImageName"])
            where, args = ["image_name = ?"], [image["name"]]
            if "Version" in params:
                rows.require_version(db, image["name"], params["Version"])
                where.append("version = ?")
                args.append(params["Version"])
            if "Alias" in params:
                where.append("alias = ?")
                args.append(params["Alias"])
            found, token = listing.page(
                db, "aliases", where, args, "alias", "alias", {**params, "SortOrder": "ASCENDING"}
            )
        return {"SageMakerImageVersionAliases": [row["alias"] for row in found], **token}

    # Tags -------------------------------------------------------------------------------------

    def add_tags(self, params: dict[str, Any]) -> dict[str, Any]:
        _check_tags(params["Tags"])
        with self._database.transaction() as db:
            image = rows.require_tagged_image(db, params["ResourceArn"])
            _put_tags(db, image["name"], params["Tags"])
        return {"Tags": params["Tags"]}

    def list_tags(self, params: dict[str, Any]) -> dict[str, Any]:
        with self._database.transaction() as db:
            image = rows.require_tagged_image(db, params["ResourceArn"])
            found, token = listing.page(
                db,
                "image_tags",
                ["image_name = ?"],
                [image["name"]],
                "key",
                "key",
                {**params, "SortOrder": "ASCENDING", "MaxResults": params.get("MaxResults", 50)},
            )
        return {"Tags": [{"Key": row["key"], "Value": row["value"]} for row in found], **token}

    def delete_tags(self, params: dict[str, Any]) -> dict[str, Any]:
        with self._database.transaction() as db:
            image = rows.require_tagged_image(db, params["ResourceArn"])
            db.executemany(
                "DELETE FROM image_tags WHERE image_name = ? AND key = ?",
                [(image["name"], key) for key in params["TagKeys"]],
            )
        return {}

    # Seeding ----------------------------------------------------------------------------------

    def insert_seed_image(self, image: dict[str, Any], versions: list[dict[str, Any]]) -> None:
        """Insert an image and its versions exactly as given (statuses and times included).

        The demo seed uses this to show every state a real account can hold, which the create
        operations alone cannot produce (a CREATE_FAILED version, an ARCHIVED one, ...).
        """
        with self._database.transaction() as db:
            name = image["ImageName"]
            insert(
                db,
                "images",
                {
                    "name": name,
                    "arn": self.arns.image(name),
                    "display_name": image.get("DisplayName"),
                    "description": image.get("Description"),
                    "role_arn": image["RoleArn"],
                    "status": image["ImageStatus"],
                    "failure_reason": image.get("FailureReason"),
                    "next_version": max((v["Version"] for v in versions), default=0) + 1,
                    "created": milliseconds(image["CreationTime"]),
                    "modified": milliseconds(image["LastModifiedTime"]),
                    "settles_at": _NEVER,
                },
            )
            for v in versions:
                insert(
                    db,
                    "image_versions",
                    {
                        "image_name": name,
                        "version": v["Version"],
                        "arn": self.arns.image_version(name, v["Version"]),
                        "base_image": v["BaseImage"],
                        "container_image": v.get("ContainerImage"),
                        "status": v["ImageVersionStatus"],
                        "failure_reason": v.get("FailureReason"),
                        "created": milliseconds(v["CreationTime"]),
                        "modified": milliseconds(v["LastModifiedTime"]),
                        "settles_at": _NEVER,
                        **_version_fields(v),
                    },
                )
                _add_aliases(db, name, v["Version"], v.get("Aliases", []))

    # Lifecycle --------------------------------------------------------------------------------

    def _now(self) -> float:
        """The clock's time in whole milliseconds, as every stored time is."""
        return milliseconds(self._clock())

    def _settles_at(self, now: float) -> float:
        # In milliseconds too: a settled row's modified time becomes its settles_at.
        return milliseconds(now + self.transition_delay)

    def _initial_status(self, failure: str | None = None) -> str:
        if self.transition_delay > 0:
            return "CREATING"
        return "CREATED" if failure is None else "CREATE_FAILED"

    def _start_deleting(
        self, db: sqlite3.Connection, table: str, where: str, args: tuple[Any, ...]
    ) -> None:
        now = self._now()
        if self.transition_delay > 0:
            db.execute(
                f"UPDATE {table} SET status = 'DELETING', modified = ?, settles_at = ? "  # noqa: S608
                f"WHERE {where}",
                (now, self._settles_at(now), *args),
            )
        else:
            db.execute(f"DELETE FROM {table} WHERE {where}", args)  # noqa: S608


def _version_fields(source: dict[str, Any]) -> dict[str, Any]:
    """The optional version fields of a request or seed entry, keyed by column."""
    return {column: source.get(member) for member, column in VERSION_FIELDS.items()}


def _add_aliases(db: sqlite3.Connection, name: str, version: int, aliases: list[str]) -> None:
    db.executemany(
        "INSERT OR IGNORE INTO aliases (image_name, alias, version) VALUES (?, ?, ?)",
        [(name, alias, version) for alias in aliases],
    )


def _check_tags(tags: list[dict[str, str]]) -> None:
    """Refuse what AWS refuses of any request's tags beyond the model's patterns: keys in the
    ``aws:`` prefix (reserved for AWS, in any case) and a key given twice."""
    seen: set[str] = set()
    for tag in tags:
        key = tag["Key"]
        if key.lower().startswith("aws:"):
            raise AwsError(
                "ValidationException",
                f"Tag key '{key}' is not valid: tag keys starting with 'aws:' are reserved"
                " for internal use.",
            )
        if key in seen:
            raise AwsError(
                "ValidationException", f"Duplicate tag key '{key}': a key may appear only once."
            )
        seen.add(key)


def _put_tags(db: sqlite3.Connection, name: str, tags: list[dict[str, str]]) -> None:
    """Set ``tags`` on an image; a key it already has takes the new value."""
    db.executemany(
        "INSERT INTO image_tags (image_name, key, value) VALUES (?, ?, ?) "
        "ON CONFLICT (image_name, key) DO UPDATE SET value = excluded.value",
        [(name, tag["Key"], tag["Value"]) for tag in tags],
    )
