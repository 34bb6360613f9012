"""Finding the rows an operation names, the way SageMaker resolves names, and failing the way it
fails: ``ResourceNotFound`` for what does not exist, ``ResourceInUse`` for an alias taken by
another version. Several operations name images and versions alike, so they share these lookups
and therefore their error messages.

Every not-found message says "does not exist", as AWS's do: tools that manage images (the
Terraform provider among them) take a ResourceNotFound for "already gone" only on those words.
A missing image's message also says "No Image with the name <name>", the words the Terraform
provider matches after DeleteImage and while it polls DescribeImage. The latest-version message
is AWS's verbatim; the others follow its pattern.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from app.local_sagemaker.protocol import AwsError


def image_row(db: sqlite3.Connection, name: str) -> sqlite3.Row | None:
    row: sqlite3.Row | None = db.execute("SELECT * FROM images WHERE name = ?", (name,)).fetchone()
    return row


def require_image(db: sqlite3.Connection, name: str) -> sqlite3.Row:
    row = image_row(db, name)
    if row is None:
        raise AwsError(
            "ResourceNotFound", f"No Image with the name {name} exists: the Image does not exist."
        )
    return row


def require_tagged_image(db: sqlite3.Connection, arn: str) -> sqlite3.Row:
    """The image a tagging call's ``ResourceArn`` names. The tagging operations model no
    ResourceNotFound, so AWS answers an unknown resource with a ValidationException."""
    row: sqlite3.Row | None = db.execute("SELECT * FROM images WHERE arn = ?", (arn,)).fetchone()
    if row is None:
        raise AwsError("ValidationException", f"Resource {arn} does not exist.")
    return row


def require_version(db: sqlite3.Connection, name: str, version: int) -> sqlite3.Row:
    row: sqlite3.Row | None = db.execute(
        "SELECT * FROM image_versions WHERE image_name = ? AND version = ?", (name, version)
    ).fetchone()
    if row is None:
        raise AwsError(
            "ResourceNotFound",
            f"ImageVersion with ImageName {name} and Version {version} does not exist.",
        )
    return row


def resolve_version(db: sqlite3.Connection, params: dict[str, Any]) -> sqlite3.Row:
    """The version named by ``Version`` or ``Alias``; the latest when neither is given."""
    image = require_image(db, params["ImageName"])
    name = image["name"]
    if "Version" in params and "Alias" in params:
        raise AwsError("ValidationException", "Specify either Version or Alias, not both")
    if "Version" in params:
        return require_version(db, name, params["Version"])
    if "Alias" in params:
        alias = db.execute(
            "SELECT version FROM aliases WHERE image_name = ? AND alias = ?",
            (name, params["Alias"]),
        ).fetchone()
        if alias is None:
            raise AwsError(
                "ResourceNotFound",
                f"ImageVersion with ImageName {name} and Alias {params['Alias']} does not exist.",
            )
        return require_version(db, name, alias["version"])
    latest: sqlite3.Row | None = db.execute(
        "SELECT * FROM image_versions WHERE image_name = ? ORDER BY version DESC LIMIT 1", (name,)
    ).fetchone()
    if latest is None:
        raise AwsError(
            "ResourceNotFound",
            f"Latest ImageVersion with ImageName {name} does not exist."
            " Please provide a valid ImageName.",
        )
    return latest


def check_aliases_free(
    db: sqlite3.Connection, name: str, aliases: list[str], version: int | None
) -> None:
    """Refuse an alias that already names another version than ``version`` (``None``: a version
    not created yet)."""
    for alias in aliases:
        owner = db.execute(
            "SELECT version FROM aliases WHERE image_name = ? AND alias = ?", (name, alias)
        ).fetchone()
        if owner is not None and owner["version"] != version:
            raise AwsError(
                "ResourceInUse",
                f"Alias '{alias}' already names version {owner['version']} of image '{name}'",
            )
