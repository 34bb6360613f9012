"""How a serving process gives memory back to the system.

glibc's malloc keeps freed memory for reuse unless told otherwise, and raises its threshold for
serving large blocks from their own mappings each time it frees one: after a burst of large
answers (a client that stops reading, a 5,000-object response), a process keeps their peak as
resident memory for good. A fixed threshold keeps large blocks in mappings of their own, which
go back to the system when freed, and a low trim threshold returns the heap's free top.
Measured by tests/deployment/test_memory.py (growth over the process's start), before a
connection's answers were taken in turns (``app.web.subscriptions``): without this,
+119 MiB after the cached responses and persisted queries (budgets: 80 MiB), a peak of +211 MiB
with three clients not reading, and +210 MiB still after they were dropped; with it, +78, +168
and +146 MiB.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging

log = logging.getLogger("app")

# mallopt's parameters (malloc.h).
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
# Blocks from 128 KiB up get mappings of their own (glibc's starting value, held fixed); the
# heap's free top beyond 128 KiB is returned.
THRESHOLD = 128 * 1024


def return_freed_memory() -> None:
    """Make this process's malloc give large freed blocks back; nothing on a C library other
    than glibc (whose defaults differ and have no such knobs)."""
    name = ctypes.util.find_library("c")
    if name is None:
        return
    libc = ctypes.CDLL(name)
    mallopt = getattr(libc, "mallopt", None)
    if mallopt is None or not hasattr(libc, "gnu_get_libc_version"):
        return
    for parameter in (_M_MMAP_THRESHOLD, _M_TRIM_THRESHOLD):
        if mallopt(parameter, THRESHOLD) != 1:
            log.warning({"event": "mallopt_refused", "parameter": parameter})
