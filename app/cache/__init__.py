"""Answers of SageMaker kept across requests (and, with Redis, across replicas).

Per-request DataLoaders dedupe within one request; this package sits between them and the AWS
package so that a busy frontend does not ask SageMaker again for what it asked a second ago:

* :mod:`.policy`: how long each kind of answer stays fresh (settled records long, records in a
  transition short, "not found" briefly, errors that say nothing about the resource never);
* :mod:`.stores` and :mod:`.redis_store`: where answers are kept: a bounded in-process LRU,
  or Redis, each call time-boxed and bypassed while :mod:`.breaker` says Redis fails or stalls
  (a cache, never a dependency);
* :mod:`.codec`: answers as JSON for Redis, type by type;
* :mod:`.cached_sagemaker`: the SageMaker calls through the store, with concurrent misses for
  one key coalesced into one upstream call (in a process, and across replicas through a short
  Redis lock) and, when allowed, a just-expired answer served while one refresh runs.
"""
