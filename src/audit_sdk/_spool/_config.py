"""How `configure()` turns its delivery arguments and AUDIT_SDK_* variables into a processor.

Validation happens in `resolve_delivery`, before `configure()` has any side
effect; `DeliveryOptions.build` then makes the processor.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from opentelemetry.metrics import MeterProvider
from opentelemetry.sdk._logs import LogRecordProcessor
from opentelemetry.sdk._logs.export import LogRecordExporter

from audit_sdk._errors import AuditConfigurationError
from audit_sdk._spool._processor import (
    DEFAULT_SPOOL_MAX_BYTES,
    MIN_SPOOL_MAX_BYTES,
    DeliveryPolicy,
    SpoolFsync,
    SpoolingProcessor,
)

__all__ = [
    "DEFAULT_SPOOL_DIR",
    "ENV_DELIVERY",
    "ENV_SPOOL_DIR",
    "ENV_SPOOL_FSYNC",
    "ENV_SPOOL_MAX_BYTES",
    "MEMORY",
    "DeliveryOptions",
    "resolve_delivery",
]

ENV_DELIVERY = "AUDIT_SDK_DELIVERY"
ENV_SPOOL_DIR = "AUDIT_SDK_SPOOL_DIR"
ENV_SPOOL_MAX_BYTES = "AUDIT_SDK_SPOOL_MAX_BYTES"
ENV_SPOOL_FSYNC = "AUDIT_SDK_SPOOL_FSYNC"
DEFAULT_SPOOL_DIR = "audit-spool"
MEMORY = "memory"  # today's in-memory ReliableBatchProcessor


@dataclass(frozen=True, slots=True)
class DeliveryOptions:
    policy: DeliveryPolicy
    spool_dir: Path
    max_bytes: int
    fsync: SpoolFsync | None
    meter_provider: MeterProvider | None

    def build(self, exporter: LogRecordExporter) -> LogRecordProcessor:
        return SpoolingProcessor(
            exporter,
            spool_dir=self.spool_dir,
            policy=self.policy,
            max_bytes=self.max_bytes,
            fsync=self.fsync,
            meter_provider=self.meter_provider,
        )


def resolve_delivery(
    *,
    delivery: str | None,
    spool_dir: str | os.PathLike[str] | None,
    spool_max_bytes: int | None,
    spool_fsync: str | None,
    meter_provider: MeterProvider | None,
    processor_given: bool,
    env: Mapping[str, str],
) -> DeliveryOptions | None:
    """The spool options, or None for the in-memory processor (or a caller's own processor)."""
    if processor_given:
        if delivery is not None or spool_dir is not None or spool_max_bytes is not None:
            raise AuditConfigurationError(
                "pass either processor= or delivery=/spool_dir=/spool_max_bytes=, not both"
            )
        return None
    raw = delivery if delivery is not None else (env.get(ENV_DELIVERY) or "").strip() or MEMORY
    name = raw.strip().lower().replace("-", "_")
    if name == MEMORY:
        if spool_dir is not None or spool_max_bytes is not None or spool_fsync is not None:
            raise AuditConfigurationError(
                "spool_dir, spool_max_bytes and spool_fsync need a spooling delivery policy "
                "(delivery='durable', 'fail_closed' or 'best_effort')"
            )
        return None
    try:
        policy = DeliveryPolicy(name)
    except ValueError:
        choices = [MEMORY, *(p.value for p in DeliveryPolicy)]
        raise AuditConfigurationError(
            f"delivery {raw!r} is not one of {choices} (argument delivery= or {ENV_DELIVERY})"
        ) from None
    if spool_max_bytes is None:
        text = (env.get(ENV_SPOOL_MAX_BYTES) or "").strip()
        try:
            spool_max_bytes = int(text) if text else DEFAULT_SPOOL_MAX_BYTES
        except ValueError:
            raise AuditConfigurationError(
                f"{ENV_SPOOL_MAX_BYTES} must be a number of bytes, got {text!r}"
            ) from None
    if isinstance(spool_max_bytes, bool) or spool_max_bytes < MIN_SPOOL_MAX_BYTES:
        raise AuditConfigurationError(f"spool_max_bytes must be >= {MIN_SPOOL_MAX_BYTES}")
    fsync_raw = spool_fsync if spool_fsync is not None else (env.get(ENV_SPOOL_FSYNC) or None)
    try:
        fsync = None if fsync_raw is None else SpoolFsync(fsync_raw.strip().lower())
    except ValueError:
        raise AuditConfigurationError(
            f"spool_fsync {fsync_raw!r} is not one of {[f.value for f in SpoolFsync]}"
        ) from None
    directory = Path(spool_dir or env.get(ENV_SPOOL_DIR) or DEFAULT_SPOOL_DIR)
    if directory.exists() and not directory.is_dir():
        raise AuditConfigurationError(f"the spool directory {directory} is not a directory")
    return DeliveryOptions(policy, directory, spool_max_bytes, fsync, meter_provider)
