"""What one operation may ask of the service: the schema room's options.

Each limit bounds a cost the others do not (README: "Limits, errors and production settings"):
the document's size and shape before validation, the objects an operation may fetch before it
runs, and the arguments a resolver accepts.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SchemaLimits:
    # The document, checked while parsing and before validation (app.schema.documents).
    max_tokens: int
    max_selections: int
    max_repeated_selections: int
    max_depth: int
    max_aliases: int
    # The operation's object budget, estimated before it runs (app.schema.cost).
    max_objects: int
    # Errors one operation answers with; the rest are counted (app.schema.presenter).
    max_errors: int
    # Arguments: refs in one imageVersions call, a connection's page.
    max_refs: int
    max_first: int
    # Whether introspection (__schema, __type) is answered.
    introspection: bool
