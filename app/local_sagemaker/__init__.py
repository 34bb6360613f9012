"""A small SageMaker-compatible endpoint: the service's embedded default backend and the real
HTTP peer of its tests. It knows the SageMaker wire protocol and its own store, nothing of GraphQL:
it imports nothing of the service but :mod:`app.server_thread`.

Public surface, the names the service, the CLI, scripts and tests may rely on (re-exported here;
their module paths stay valid too):

* :class:`~app.local_sagemaker.server.EndpointOptions`: how to build an endpoint;
* :class:`~app.local_sagemaker.server.LocalSageMaker`: an endpoint, served in the foreground;
* :class:`~app.local_sagemaker.server.BackgroundEndpoint`: an endpoint on a loopback thread;
* :class:`~app.local_sagemaker.faults.FaultPlan`: the latency and failures to inject;
* ``DEFAULT_ACCOUNT`` (the account of any access key it was not told of) and ``SECOND_ACCOUNT``
  (the demo catalog's other account).

Tests may also reach into the modules behind them, to check the endpoint against the same model
it checks requests with: :mod:`.shapes` (``operation_model``, ``enum_values``, ``problems``),
:mod:`.seed` (``demo_catalog``), :mod:`.store` (``ImageStore``), :mod:`.endpoint`
(``supported_operations``) and :mod:`.protocol` (``MAX_BODY_BYTES``). Everything else is internal.
"""

from app.local_sagemaker.faults import FaultPlan
from app.local_sagemaker.seed import SECOND_ACCOUNT
from app.local_sagemaker.server import BackgroundEndpoint, EndpointOptions, LocalSageMaker
from app.local_sagemaker.targets import DEFAULT_ACCOUNT

__all__ = [
    "DEFAULT_ACCOUNT",
    "SECOND_ACCOUNT",
    "BackgroundEndpoint",
    "EndpointOptions",
    "FaultPlan",
    "LocalSageMaker",
]
