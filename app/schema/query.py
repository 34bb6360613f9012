"""The root Query. Resolvers are thin: they build the AWS package's keys from their arguments
(which checks them) and load through the request's DataLoaders; nothing here calls SageMaker."""

from __future__ import annotations

import functools
from collections.abc import AsyncGenerator, Callable
from typing import Annotated, Any

import strawberry
from graphql import GraphQLError

from app.errors import ErrorCode, extension
from app.sagemaker import ImageKey, ImagesPage, ImageSummary, ImageVersionKey
from app.sagemaker.operations import LIST_IMAGES
from app.schema.connections import DEFAULT_FIRST, Connection, paginate_merged
from app.schema.context import Info
from app.schema.cost import field_directives
from app.schema.enums import ImageSortBy, ImageSortOrder
from app.schema.global_ids import Node, parse_global_id
from app.schema.presenter import bad_user_input
from app.schema.types import (
    NODES,
    Account,
    After,
    Alias,
    Filter,
    First,
    Image,
    ImageVersion,
    Order,
    Region,
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
    region: str | None = strawberry.field(
        default=None, description="The AWS region to look in; the default target's if omitted."
    )
    account: str | None = strawberry.field(
        default=None, description="The AWS account to look in; the default target's if omitted."
    )


@strawberry.type(description="Read SageMaker images and their versions.")
class Query:
    @strawberry.field(
        description="One image version, by version number or alias; the latest version of the "
        "image when neither is given. Null, with a NOT_FOUND error, when there is no such version."
    )
    async def image_version(
        self,
        info: Info,
        image_name: ImageName,
        version: Version = None,
        alias: Alias = None,
        region: Region = None,
        account: Account = None,
    ) -> ImageVersion | None:
        target = info.context.targets.named(region, account)
        return await load_image_version(
            info, ImageVersionKey.of(image_name, version, alias, target)
        )

    @strawberry.field(
        description="Many image versions at once (at most the service's limit, 100 by default), "
        "in the order asked. A ref "
        "that fails is null at its index with an error of its own; the others still come back. "
        "Repeated refs cost one SageMaker call.",
        directives=field_directives("Query.imageVersions"),
    )
    def image_versions(
        self,
        info: Info,
        refs: Annotated[
            list[ImageVersionRefInput],
            strawberry.argument(description="The versions to load."),
        ],
    ) -> list[ImageVersion | None]:
        _check_count(info, "refs", len(refs))
        # A list of awaitables: graphql-core resolves them concurrently and places an error
        # at the index of the ref that failed, leaving the rest of the list intact.
        pending: list[Any] = [_load_ref(info, ref) for ref in refs]
        return pending

    @strawberry.field(
        description="Fetches an object given its ID (Relay): an Image or ImageVersion by the "
        "`id` it has. An ID this service did not give is a BAD_USER_INPUT error; one whose "
        "entity is gone is null with a NOT_FOUND error."
    )
    async def node(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The ID of an object")],
    ) -> Node | None:
        return await _load_node(info, id)

    @strawberry.field(
        description="Fetches objects given their IDs (Relay), in the order asked, at most the "
        "service's limit of refs (100 by default): loaded together, as `imageVersions` loads "
        "its refs. An ID that fails is null at its index with an error of its own.",
        directives=field_directives("Query.nodes"),
    )
    def nodes(
        self,
        info: Info,
        ids: Annotated[list[strawberry.ID], strawberry.argument(description="The IDs of objects")],
    ) -> list[Node | None]:
        _check_count(info, "ids", len(ids))
        pending: list[Any] = [_load_node(info, id) for id in ids]
        return pending

    @strawberry.field(
        description="One image (DescribeImage). Null, with a NOT_FOUND error, when there is none."
    )
    async def image(
        self, info: Info, image_name: ImageName, region: Region = None, account: Account = None
    ) -> Image | None:
        target = info.context.targets.named(region, account)
        return await load_image(info, ImageKey.of(image_name, target))

    @strawberry.field(
        description="Images, newest first unless `sortBy`/`sortOrder` say otherwise "
        "(ListImages): the default target's, or those of every served target in `regions` and "
        "`accounts`, listed at once and merged in that order under one cursor. A target that "
        "fails leaves its images out, with an error that names it, and is read again on the "
        "next page.",
        directives=field_directives("Query.images"),
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
        sort_order: Order = ImageSortOrder.DESCENDING,
        filter: Filter = None,
        regions: Annotated[
            list[str] | None,
            strawberry.argument(
                description="List the served targets in these regions (any, if omitted)."
            ),
        ] = None,
        accounts: Annotated[
            list[str] | None,
            strawberry.argument(
                description="List the served targets of these accounts (any, if omitted). "
                "With neither, the default target."
            ),
        ] = None,
    ) -> Connection[Image]:
        targets = info.context.targets.listed(regions, accounts)
        arguments = ordering(sort_by, sort_order, filter)
        pages = [
            ImagesPage(name_contains=name_contains, target=target, **arguments)
            for target in targets
        ]
        if len(pages) == 1:
            (target,) = targets
            return await listed(
                info,
                LIST_IMAGES,
                pages[0],
                first,
                after,
                lambda found: Image.from_record(found, target),
            )
        return await listed_across(info, pages, first, after, sort_by, sort_order)


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
        self,
        info: Info,
        image_name: ImageName,
        version: Version = None,
        alias: Alias = None,
        region: Region = None,
        account: Account = None,
    ) -> AsyncGenerator[ImageVersion, None]:
        watch = info.context.watch
        if watch is None:
            raise bad_user_input("Subscriptions run over WebSocket (graphql-transport-ws).")
        target = info.context.targets.named(region, account)
        key = ImageVersionKey.of(image_name, version, alias, target)
        try:
            async for state in watch.follow(key):
                # Each event is answered like a request of its own: the connection's loaders
                # would otherwise remember old answers and run out of time.
                info.context.loaders = info.context.loaders.renewed()
                yield ImageVersion.from_record(state, target)
        except TooManyFollowers as full:
            raise GraphQLError(
                str(full), extensions=extension(ErrorCode.TOO_MANY_SUBSCRIPTIONS)
            ) from None


def _check_count(info: Info, argument: str, count: int) -> None:
    """Refuse a list argument longer than the service's limit of refs."""
    max_refs = info.context.limits.max_refs
    if count > max_refs:
        raise bad_user_input(
            f"Ask for at most {max_refs} {argument} at once, not {count}.", maxRefs=max_refs
        )


async def _load_node(info: Info, id: str) -> Node:
    # Read here, inside the ID's own awaitable, so that a bad ID of `nodes` fails alone.
    type_name, arn = parse_global_id(id)
    info.context.targets.of_arn(arn, "id")
    return await NODES[type_name](info, arn)


async def _load_ref(info: Info, ref: ImageVersionRefInput) -> ImageVersion:
    # The key is built here, inside the ref's own awaitable, so a bad ref fails alone.
    target = info.context.targets.named(ref.region, ref.account)
    return await load_image_version(
        info, ImageVersionKey.of(ref.image_name, ref.version, ref.alias, target)
    )


# What each sort of images orders by, as merging several targets' listings compares them.
_IMAGE_ORDER: dict[ImageSortBy, Callable[[ImageSummary], Any]] = {
    ImageSortBy.CREATION_TIME: lambda image: image.creation_time,
    ImageSortBy.LAST_MODIFIED_TIME: lambda image: image.last_modified_time,
    ImageSortBy.IMAGE_NAME: lambda image: image.image_name,
}


async def listed_across(
    info: Info,
    pages: list[ImagesPage],
    first: int,
    after: str | None,
    sort_by: ImageSortBy,
    sort_order: ImageSortOrder,
) -> Connection[Image]:
    """Several targets' images as one connection; a target that failed is an error of its own
    at this field, beside the others' images."""
    connection, failures = await paginate_merged(
        functools.partial(info.context.loaders.load, LIST_IMAGES),
        pages,
        first,
        after,
        _IMAGE_ORDER[sort_by],
        sort_order is ImageSortOrder.DESCENDING,
        lambda index, found: Image.from_record(found, pages[index].target),
        info.context.limits.max_first,
    )
    for _, failure in failures:
        info.context.partial_errors.append(
            GraphQLError(str(failure), path=info.path.as_list(), original_error=failure)
        )
    return connection
