"""A small SageMaker-compatible endpoint: the service's embedded default backend and the real
HTTP peer of its tests. It knows the SageMaker wire protocol and its own store, nothing of GraphQL.
"""
