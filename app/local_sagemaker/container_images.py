"""The ``ContainerImage`` of a new version: the registry reference SageMaker answers with.

AWS resolves a version's base image when it makes the version and answers with a reference by
digest, ``<repository>@sha256:<64 hex>``, so the version keeps naming the same image even after
its tag moves. The local endpoint has no registry to ask, so the digest of a tagged base image is
derived from the reference itself: deterministic, and distinct for each repository and tag.

References follow Docker's grammar ``[host[:port]/]path[:tag][@digest]``:

* a digest names exactly one image already, so it is kept (and any tag beside it dropped);
* otherwise the tag (``latest`` when none is given, as Docker reads it) is resolved to a digest.
"""

from __future__ import annotations

import hashlib


def container_image(base_image: str) -> str:
    name, _, digest = base_image.partition("@")
    # A colon after the last slash starts the tag; one before it is the registry's port.
    tag_colon = name.rfind(":")
    has_tag = tag_colon > name.rfind("/")
    repository = name[:tag_colon] if has_tag else name
    if digest:
        return f"{repository}@{digest}"
    tag = name[tag_colon + 1 :] if has_tag else "latest"
    resolved = hashlib.sha256(f"{repository}:{tag}".encode()).hexdigest()
    return f"{repository}@sha256:{resolved}"
