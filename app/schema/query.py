"""The root Query. Resolvers are thin: they check their arguments and load through the request's
DataLoaders; nothing here calls SageMaker directly."""

from __future__ import annotations

from typing import Annotated, Any

import strawberry

from app.errors import InvalidInput, reported_as_graphql_errors
from app.sagemaker import ListRequest, check_string
from app.schema.connections import DEFAULT_FIRST, Connection, paginate
from app.schema.context import Info
from app.schema.enums import ImageSortBy, SortOrder
from app.schema.types import (
    After,
    Alias,
    Filter,
    First,
    Image,
    ImageVersion,
    Order,
    TimeFilter,
    Version,
    load_image,
    load_image_version_by_ref,
)

MAX_REFS = 100

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
        return await load_image_version_by_ref(info, image_name, version, alias)

    @strawberry.field(
        description=f"Many image versions at once (at most {MAX_REFS}), in the order asked. A ref "
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
        if len(refs) > MAX_REFS:
            with reported_as_graphql_errors({}):
                raise InvalidInput(f"Ask for at most {MAX_REFS} refs at once, not {len(refs)}.")
        # A list of awaitables: graphql-core resolves them concurrently and places an error
        # at the index of the ref that failed, leaving the rest of the list intact.
        pending: list[Any] = [
            load_image_version_by_ref(info, ref.image_name, ref.version, ref.alias) for ref in refs
        ]
        return pending

    @strawberry.field(
        description="One image (DescribeImage). Null, with a NOT_FOUND error, when there is none."
    )
    async def image(self, info: Info, image_name: ImageName) -> Image | None:
        return await load_image(info, image_name)

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
        with reported_as_graphql_errors({}):
            if name_contains is not None:
                check_string(name_contains, "ImageNameContains", "nameContains")
            request = ListRequest(
                name_contains=name_contains,
                sort_by=sort_by.name,
                sort_order=sort_order.name,
                **TimeFilter.bounds(filter),
            )
            return await paginate(
                info.context.loaders.image_page.load, request, first, after, Image.from_summary
            )
