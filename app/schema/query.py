"""The root Query. Resolvers are thin: they build the AWS package's keys from their arguments
(which checks them) and load through the request's DataLoaders; nothing here calls SageMaker."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Annotated, Any

import strawberry
from graphql import GraphQLError

from app.errors import ErrorCode, extension
from app.sagemaker import ImageKey, ImagesPage, ImageVersionKey
from app.sagemaker.operations import LIST_IMAGES
from app.schema.connections import DEFAULT_FIRST, Connection
from app.schema.context import Info
from app.schema.enums import ImageSortBy, SortOrder
from app.schema.presenter import bad_user_input
from app.schema.types import (
    After,
    Alias,
    Filter,
    First,
    Image,
    ImageVersion,
    Order,
    Version,
    listed,
    load_image,
    load_image_version,
    ordering,
)
from app.watch import TooManyFollowers

ImageName = Annotated[str, strawberry.argument(description="The name of the SageMaker image.")]


@strawberry.input(
    name="ImageVersionRef",
    description="Which image version to load: by version number, by alias, or, with neither, "
    "the latest version of the image.",
)
class ImageVersionRefInput:
    image_name: str = strawberry.field(description="The name of the SageMaker image.")
    version: int | None = strawberry.field(
        default=None, description="The version number; not together with `alias`."
    )
    alias: str | None = strawberry.field(
        default=None, description="An alias of the version, such as `stable`; not with `version`."
    )


@strawberry.type(description="Read SageMaker images and their versions.")
class Query:
    @strawberry.field(
        description="One image version, by version number or alias; the latest version of the "
        "image when neither is given. Null, with a NOT_FOUND error, when there is no such version."
    )
    async def image_version(
        self, info: Info, image_name: ImageName, version: Version = None, alias: Alias = None
    ) -> ImageVersion | None:
        return await load_image_version(info, ImageVersionKey.of(image_name, version, alias))

    @strawberry.field(
        description="Many image versions at once (at most the service's limit, 100 by default), "
        "in the order asked. A ref "
        "that fails is null at its index with an error of its own; the others still come back. "
        "Repeated refs cost one SageMaker call."
    )
    def image_versions(
        self,
        info: Info,
        refs: Annotated[
            list[ImageVersionRefInput],
            strawberry.argument(description="The versions to load."),
        ],
    ) -> list[ImageVersion | None]:
        max_refs = info.context.limits.max_refs
        if len(refs) > max_refs:
            raise bad_user_input(
                f"Ask for at most {max_refs} refs at once, not {len(refs)}.", maxRefs=max_refs
            )
        # A list of awaitables: graphql-core resolves them concurrently and places an error
        # at the index of the ref that failed, leaving the rest of the list intact.
        pending: list[Any] = [_load_ref(info, ref) for ref in refs]
        return pending

    @strawberry.field(
        description="One image (DescribeImage). Null, with a NOT_FOUND error, when there is none."
    )
    async def image(self, info: Info, image_name: ImageName) -> Image | None:
        return await load_image(info, ImageKey.of(image_name))

    @strawberry.field(
        description="The account's images, newest first unless `sortBy`/`sortOrder` say "
        "otherwise (ListImages)."
    )
    async def images(
        self,
        info: Info,
        first: First = DEFAULT_FIRST,
        after: After = None,
        name_contains: Annotated[
            str | None,
            strawberry.argument(description="Only images whose name contains this text."),
        ] = None,
        sort_by: Annotated[
            ImageSortBy, strawberry.argument(description="What to order by.")
        ] = ImageSortBy.CREATION_TIME,
        sort_order: Order = SortOrder.DESCENDING,
        filter: Filter = None,
    ) -> Connection[Image]:
        page = ImagesPage(name_contains=name_contains, **ordering(sort_by, sort_order, filter))
        return await listed(info, LIST_IMAGES, page, first, after, Image.from_record)


@strawberry.type(description="Follow SageMaker image versions as they change.")
class Subscription:
    @strawberry.subscription(
        description="One image version, by version number or alias (the latest when neither is "
        "given): its current state at once, then each change (status, failure reason, last "
        "modification), until it settles (CREATED or a failure) or is deleted. Every client "
        "following one version shares one poller of SageMaker, which backs off while nothing "
        "changes."
    )
    async def image_version_status(
        self, info: Info, image_name: ImageName, version: Version = None, alias: Alias = None
    ) -> AsyncGenerator[ImageVersion, None]:
        watch = info.context.watch
        if watch is None:
            raise bad_user_input("Subscriptions run over WebSocket (graphql-transport-ws).")
        key = ImageVersionKey.of(image_name, version, alias)
        try:
            async for state in watch.follow(key):
                # Each event is answered like a request of its own: the connection's loaders
                # would otherwise remember old answers and run out of time.
                info.context.loaders = info.context.loaders.renewed()
                yield ImageVersion.from_record(state)
        except TooManyFollowers as full:
            raise GraphQLError(
                str(full), extensions=extension(ErrorCode.TOO_MANY_SUBSCRIPTIONS)
            ) from None


async def _load_ref(info: Info, ref: ImageVersionRefInput) -> ImageVersion:
    # The key is built here, inside the ref's own awaitable, so a bad ref fails alone.
    return await load_image_version(
        info, ImageVersionKey.of(ref.image_name, ref.version, ref.alias)
    )
