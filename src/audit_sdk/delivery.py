"""Durable delivery of audit records: the spool policies, their processor and health.

    import audit_sdk
    from audit_sdk.delivery import processors, read_status

    audit_sdk.configure(delivery="durable", spool_dir="/var/lib/myapp/audit-spool")
    ...
    for processor in processors():          # this process's spools
        print(processor.stats)              # spooled, sent, retried, lost, queue depth, ...
    print(read_status("/var/lib/myapp/audit-spool").to_dict())   # any spool, from disk

`configure(delivery=...)` builds a `SpoolingProcessor`; build one yourself for
the options configure() does not expose (block and shutdown timeouts, batch
size, adoption interval) and pass it as `configure(processor=...)`. Policies,
fsync, bounds, fork/thread/asyncio behaviour and recovery: docs/delivery.md.
"""

from __future__ import annotations

from audit_sdk._spool._processor import (
    _PROCESSORS,
    DEFAULT_SPOOL_MAX_BYTES,
    MIN_SPOOL_MAX_BYTES,
    DeliveryPolicy,
    SpoolFsync,
    SpoolingProcessor,
    SpoolStats,
)
from audit_sdk._spool._store import ProcDirStatus, SpoolStatus, read_status

__all__ = [
    "DEFAULT_SPOOL_MAX_BYTES",
    "MIN_SPOOL_MAX_BYTES",
    "DeliveryPolicy",
    "ProcDirStatus",
    "SpoolFsync",
    "SpoolStats",
    "SpoolStatus",
    "SpoolingProcessor",
    "processors",
    "read_status",
]


def processors() -> list[SpoolingProcessor]:
    """The spooling processors alive in this process (after fork: the child's own state)."""
    return [p for p in list(_PROCESSORS) if not p.closed]
