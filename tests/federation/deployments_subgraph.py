"""A second, tiny subgraph for the gateway tests: deployments that reference ImageVersion
entities by ``imageVersionArn`` only, so the gateway must ask the image subgraph's ``_entities``
for every other field."""

from __future__ import annotations

import strawberry
from starlette.applications import Starlette
from starlette.routing import Route
from strawberry.asgi import GraphQL
from strawberry.federation.schema_directives import Key
from strawberry.federation.types import FieldSet


@strawberry.federation.type(keys=[Key(fields=FieldSet("imageVersionArn"), resolvable=False)])
class ImageVersion:
    image_version_arn: str


@strawberry.type
class Deployment:
    name: str
    image_version: ImageVersion | None


def build_schema(arns: list[str]) -> strawberry.federation.Schema:
    """A schema whose ``deployments`` reference ``arns``, in order, one deployment each."""

    @strawberry.type
    class Query:
        @strawberry.field
        def deployments(self) -> list[Deployment]:
            return [
                Deployment(
                    name=f"deployment-{i}", image_version=ImageVersion(image_version_arn=arn)
                )
                for i, arn in enumerate(arns)
            ]

    return strawberry.federation.Schema(query=Query)


def build_app(arns: list[str]) -> Starlette:
    return Starlette(routes=[Route("/graphql", GraphQL(build_schema(arns)))])
