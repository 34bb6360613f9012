"""The ``ContainerImage`` of a new version: the registry reference SageMaker answers with.

SageMaker copies a version's base image into its own registry; the local endpoint has no
registry, so it keeps the base image's repository and pins the tag to the version, giving each
version a reference of its own.
"""

from __future__ import annotations


def container_image(base_image: str, version: int) -> str:
    repository = base_image.rsplit(":", 1)[0] if "/" in base_image else base_image
    return f"{repository}:v{version}"
