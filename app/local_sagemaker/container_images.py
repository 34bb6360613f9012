"""The ``ContainerImage`` of a new version: the registry reference SageMaker answers with.

SageMaker copies a version's base image into its own registry; the local endpoint has no
registry, so it derives the reference from the base image's, in Docker's grammar
``[host[:port]/]path[:tag][@digest]``:

* a digest names exactly one image already, so it is kept (and any tag beside it dropped);
* otherwise the tag, present or not, becomes ``v<version>``, giving each version a reference
  of its own.
"""

from __future__ import annotations


def container_image(base_image: str, version: int) -> str:
    name, _, digest = base_image.partition("@")
    # A colon after the last slash starts the tag; one before it is the registry's port.
    tag_colon = name.rfind(":")
    repository = name[:tag_colon] if tag_colon > name.rfind("/") else name
    return f"{repository}@{digest}" if digest else f"{repository}:v{version}"
