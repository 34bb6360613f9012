"""The root Query. Resolvers are thin: they check their arguments and load through the request's
DataLoaders; nothing here calls SageMaker directly."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Annotated, Any

import strawberry

from app.errors import InvalidInput, to_graphql_error
from app.sagemaker import ImageVersionRef
from app.schema.context import Info
from app.schema.image_version import ImageVersion, ImageVersionRefInput, load_image_version

MAX_REFS = 100

ImageName = Annotated[str, strawberry.argument(description="The name of the SageMaker image.")]
VersionNumber = Annotated[
    int | None,
    strawberry.argument(description="The version number (0 or more); not together with `alias`."),
]
Alias = Annotated[
    str | None,
    strawberry.argument(
        description="An alias of the version, such as `stable`; not with `version`."
    ),
]


@strawberry.type(description="Read SageMaker image versions.")
class Query:
    @strawberry.field(
        description="One image version, by version number or alias; the latest version of the "
        "image when neither is given. Null, with a NOT_FOUND error, when there is no such version."
    )
    async def image_version(
        self, info: Info, image_name: ImageName, version: VersionNumber = None, alias: Alias = None
    ) -> ImageVersion | None:
        return await _load(info, image_name, version, alias)

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
            raise to_graphql_error(
                InvalidInput(f"Ask for at most {MAX_REFS} refs at once, not {len(refs)}."), {}
            )
        # A list of awaitables: graphql-core resolves them concurrently and places an error
        # at the index of the ref that failed, leaving the rest of the list intact.
        pending: list[Any] = [_load(info, ref.image_name, ref.version, ref.alias) for ref in refs]
        return pending


def _load(
    info: Info, image_name: str, version: int | None, alias: str | None
) -> Awaitable[ImageVersion]:
    asked = {"imageName": image_name, "version": version, "alias": alias}
    return load_image_version(
        info.context, asked, lambda: ImageVersionRef.parse(image_name, version, alias)
    )
