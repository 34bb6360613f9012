"""What can be looked up: keys for the describe calls and page requests for the list calls.

A key is checked once, where it is made (:meth:`ImageKey.of`, :meth:`ImageKey.from_arn`,
:meth:`ImageVersionKey.of`, :meth:`ImageVersionKey.from_arn`), and from then on travels as a
frozen, hashable value: the loaders deduplicate on it, the client turns it into a request, and
an error carries it to say which lookup failed. Each key writes its own AWS request, member
by member, so no name is derived from another by convention.

Every key carries its :class:`~app.sagemaker.targets.Target` (the region and account it is
looked up in), which never reaches the request: the client sends the call there, and the caches
keep targets apart. None is the service's default target, for callers that serve one (scripts,
tests); the schema always names it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Self

import regex

from app.sagemaker import rules
from app.sagemaker.errors import InvalidInput, shown
from app.sagemaker.targets import Target, target_of_arn


@dataclass(frozen=True)
class ImageKey:
    """One image, by name (DescribeImage)."""

    image_name: str
    target: Target | None = None

    @classmethod
    def of(cls, image_name: str, target: Target | None = None) -> ImageKey:
        key = cls(image_name, target)
        rules.IMAGE_NAME.check(image_name, "image_name", key)
        return key

    @classmethod
    def from_arn(cls, arn: str) -> ImageKey:
        """The image an ImageArn names, in the target it names, e.g.
        ``arn:aws:sagemaker:us-east-1:123456789012:image/my-image``."""
        match = _IMAGE_ARN.fullmatch(arn) if len(arn) <= 256 else None
        if match is None:
            raise InvalidInput(
                f"{shown(arn)!r} is not an image ARN "
                "(arn:aws:sagemaker:<region>:<account>:image/<image>).",
                field="image_arn",
                value=arn,
            )
        return cls(match["name"], target_of_arn(arn))

    def as_request(self) -> dict[str, Any]:
        return {"ImageName": self.image_name}


_IMAGE_ARN = regex.compile(
    r"arn:aws(?:-[a-z]+)*:sagemaker:[a-z0-9-]+:\d{12}:image/"
    r"(?P<name>[a-zA-Z0-9](?:[-.]?[a-zA-Z0-9]){0,62})"
)
_IMAGE_VERSION_ARN = regex.compile(
    r"arn:aws(?:-[a-z]+)*:sagemaker:[a-z0-9-]+:\d{12}:image-version/"
    r"(?P<name>[a-zA-Z0-9](?:[-.]?[a-zA-Z0-9]){0,62})/(?P<version>\d{1,9})"
)


@dataclass(frozen=True)
class ImageVersionKey:
    """One image version (DescribeImageVersion): (image, version), (image, alias) or, with
    neither, (image, latest)."""

    image_name: str
    version: int | None = None
    alias: str | None = None
    target: Target | None = None

    @classmethod
    def of(
        cls,
        image_name: str,
        version: int | None,
        alias: str | None,
        target: Target | None = None,
    ) -> ImageVersionKey:
        """Check the parts as SageMaker would, without calling it."""
        key = cls(image_name, version, alias, target)
        rules.IMAGE_NAME.check(image_name, "image_name", key)
        if version is not None and alias is not None:
            raise InvalidInput("Give either version or alias, not both.", key=key)
        if version is not None and version < 0:
            raise InvalidInput(
                f"must be 0 or more, not {version}.", field="version", value=version, key=key
            )
        if alias is not None:
            rules.ALIAS.check(alias, "alias", key)
        return key

    @classmethod
    def from_arn(cls, arn: str) -> ImageVersionKey:
        """The (image, version) an ImageVersionArn names, in the target it names, e.g.
        ``arn:aws:sagemaker:us-east-1:123456789012:image-version/my-image/3``."""
        match = _IMAGE_VERSION_ARN.fullmatch(arn) if len(arn) <= 256 else None
        if match is None:
            raise InvalidInput(
                f"{shown(arn)!r} is not an image version ARN "
                "(arn:aws:sagemaker:<region>:<account>:image-version/<image>/<version>).",
                field="image_version_arn",
                value=arn,
            )
        return cls(match["name"], int(match["version"]), target=target_of_arn(arn))

    def pinned(self, version: int) -> ImageVersionKey:
        """The key of the version this one resolved to."""
        return ImageVersionKey(self.image_name, version, target=self.target)

    def as_request(self) -> dict[str, Any]:
        request: dict[str, Any] = {"ImageName": self.image_name}
        if self.version is not None:
            request["Version"] = self.version
        if self.alias is not None:
            request["Alias"] = self.alias
        return request


def same_resource(asked_arn: str, found_arn: str) -> bool:
    """Whether two ARNs name one resource: the same partition, region and account, and the
    same resource (AWS lowercases names in version ARNs, so without case)."""
    return asked_arn.casefold() == found_arn.casefold()


@dataclass(frozen=True)
class TimeBounds:
    """Only items created or last modified on or after / on or before these times."""

    created_after: datetime | None = None
    created_before: datetime | None = None
    modified_after: datetime | None = None
    modified_before: datetime | None = None

    def as_request(self) -> dict[str, Any]:
        members = {
            "CreationTimeAfter": self.created_after,
            "CreationTimeBefore": self.created_before,
            "LastModifiedTimeAfter": self.modified_after,
            "LastModifiedTimeBefore": self.modified_before,
        }
        return {member: value for member, value in members.items() if value is not None}


@dataclass(frozen=True, kw_only=True)
class PageRequest:
    """One page of a list call. Hashable, so that fields asking for the same page share one
    call; :meth:`at` moves it to another page of the same query."""

    sort_by: str
    sort_order: str
    target: Target | None = None
    times: TimeBounds = TimeBounds()
    max_results: int = 10
    next_token: str | None = None

    def at(self, next_token: str | None, max_results: int) -> Self:
        return dataclasses.replace(self, next_token=next_token, max_results=max_results)

    def as_request(self) -> dict[str, Any]:
        request: dict[str, Any] = {
            "SortBy": self.sort_by,
            "SortOrder": self.sort_order,
            "MaxResults": self.max_results,
            **self.times.as_request(),
        }
        if self.next_token is not None:
            request["NextToken"] = self.next_token
        return request


@dataclass(frozen=True, kw_only=True)
class ImagesPage(PageRequest):
    """A page of ListImages; ``sort_by`` is one of the model's ImageSortBy values."""

    name_contains: str | None = None

    def __post_init__(self) -> None:
        if self.name_contains is not None:
            rules.NAME_CONTAINS.check(self.name_contains, "name_contains")

    def as_request(self) -> dict[str, Any]:
        request = super().as_request()
        if self.name_contains is not None:
            request["NameContains"] = self.name_contains
        return request


@dataclass(frozen=True, kw_only=True)
class ImageVersionsPage(PageRequest):
    """A page of ListImageVersions; ``sort_by`` is one of the model's ImageVersionSortBy
    values."""

    image_name: str

    def as_request(self) -> dict[str, Any]:
        return {"ImageName": self.image_name, **super().as_request()}
