"""Relay's global object identification: the ``Node`` interface and its global IDs.

A global ID is the base64url (unpadded) of ``<type>:<ARN>``, e.g. ``ImageVersion:arn:aws:
sagemaker:us-east-1:123456789012:image-version/my-image/3``: stable, since an entity's ARN is,
and carrying its target, since the ARN names its region and account. Clients treat it as
opaque; Apollo Client's cache and Relay's store key entities by it.

An ID is read strictly: one that does not decode to exactly the text it would be encoded from,
names no type of this service, or carries no ARN of that type is BAD_USER_INPUT, so one entity
has exactly one ID.

The shared types' descriptions are graphql-relay's own, the reference implementation's: a
neighbouring subgraph built on it composes beside this one without a hint of inconsistent
descriptions.
"""

from __future__ import annotations

import base64
import binascii

import strawberry

from app.sagemaker import ImageKey, ImageVersionKey, InvalidInput
from app.sagemaker.errors import shown
from app.schema.presenter import bad_user_input

# The types that implement Node -> how to check the ARN an ID of that type carries.
_ARN_CHECKS = {"Image": ImageKey.from_arn, "ImageVersion": ImageVersionKey.from_arn}


@strawberry.interface(name="Node", description="An object with an ID")
class Node:
    """An entity with an ARN; its ID is its GraphQL type's name and that ARN."""

    @strawberry.field(description="The id of the object.")
    def id(self, info: strawberry.Info) -> strawberry.ID:
        # The path of a field holds the name of the type it is a field of.
        type_name = info.path.typename
        assert type_name is not None
        return global_id(type_name, self.arn)

    @property
    def arn(self) -> str:
        """The entity's ARN, which each type implementing Node gives."""
        raise NotImplementedError


def global_id(type_name: str, arn: str) -> strawberry.ID:
    """The global ID of the entity of ``type_name`` whose ARN is ``arn``."""
    raw = f"{type_name}:{arn}".encode()
    return strawberry.ID(base64.urlsafe_b64encode(raw).decode().rstrip("="))


def parse_global_id(value: str) -> tuple[str, str]:
    """The (type, ARN) a global ID names; BAD_USER_INPUT when it is not one of this service's."""
    try:
        text = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        text = ""
    type_name, _, arn = text.partition(":")
    check = _ARN_CHECKS.get(type_name)
    if check is None or global_id(type_name, arn) != value:
        raise _not_an_id(value)
    try:
        check(arn)
    except InvalidInput:
        raise _not_an_id(value) from None
    return type_name, arn


def _not_an_id(value: str) -> Exception:
    return bad_user_input(
        f"{shown(value)!r} is not a global ID of this service: pass the `id` of an "
        f"{' or '.join(_ARN_CHECKS)} it returned.",
        id=shown(value),
    )
