"""`configure()`: one explicit call that builds the audit pipeline.

The pipeline is private to audit-sdk: its own LoggerProvider, Resource and
processor. It never replaces a global OTel provider the application set, and
works when the application set none.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import weakref
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from opentelemetry.metrics import MeterProvider
from opentelemetry.sdk._logs import LoggerProvider, LogRecordLimits, LogRecordProcessor
from opentelemetry.sdk._logs.export import LogRecordExporter
from opentelemetry.sdk.resources import Resource

from audit_sdk import _names as n
from audit_sdk._delivery import ReliableBatchProcessor
from audit_sdk._errors import AuditConfigurationError, AuditNotConfigured, KeyConfigurationError
from audit_sdk._keys import ENV_CHECKPOINT_KEY, HmacKeyRing, load_checkpoint_private_key
from audit_sdk._logger import DEFAULT_MAX_RECORD_BYTES, AuditLogger, validate_limits
from audit_sdk._otlp_http_json import OtlpHttpJsonLogExporter
from audit_sdk._sink import FsyncPolicy, OtlpJsonFileExporter
from audit_sdk._spool._config import resolve_delivery
from audit_sdk.pii import Pseudonymizer

__all__ = ["DEFAULT_TRAIL_PATH", "configure", "get_audit_logger", "shutdown"]

_log = logging.getLogger("audit_sdk")

DEFAULT_TRAIL_PATH = "audit-trail/audit.jsonl"
ENV_TRAIL_PATH = "AUDIT_SDK_TRAIL_PATH"
_SCOPE = "audit_sdk"
_VERSION = "0.1.0"

_default: AuditLogger | None = None
_default_lock = threading.Lock()


def _otlp_headers(raw: str | None) -> dict[str, str] | None:
    """OTEL_EXPORTER_OTLP_HEADERS: `key=value` pairs, comma-separated, URL-encoded."""
    if not raw:
        return None
    headers = {}
    for pair in raw.split(","):
        if not pair.strip():
            continue
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise AuditConfigurationError("OTLP headers must be comma-separated key=value pairs")
        headers[unquote(key.strip()).lower()] = unquote(value.strip())
    return headers


def _otlp_exporter(env: Mapping[str, str]) -> LogRecordExporter | None:
    """The OTLP exporter that the OTEL_EXPORTER_OTLP_* settings of `env` ask for, or None.

    Endpoint, protocol, headers and timeout are read from `env` (so that
    `configure(environ=...)` means what it says); TLS files and compression
    are left to the exporter, which reads them from the process environment.
    """
    logs_endpoint = env.get("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT")
    base_endpoint = env.get("OTEL_EXPORTER_OTLP_ENDPOINT")
    if not logs_endpoint and not base_endpoint:
        return None
    protocol = (
        env.get("OTEL_EXPORTER_OTLP_LOGS_PROTOCOL")
        or env.get("OTEL_EXPORTER_OTLP_PROTOCOL")
        or "http/protobuf"
    ).strip()
    headers = _otlp_headers(
        env.get("OTEL_EXPORTER_OTLP_LOGS_HEADERS") or env.get("OTEL_EXPORTER_OTLP_HEADERS")
    )
    raw_timeout = env.get("OTEL_EXPORTER_OTLP_LOGS_TIMEOUT") or env.get(
        "OTEL_EXPORTER_OTLP_TIMEOUT"
    )
    try:
        timeout = float(raw_timeout) if raw_timeout else None  # seconds, as OTel Python reads it
    except ValueError:
        raise AuditConfigurationError(f"OTLP timeout {raw_timeout!r} is not a number") from None
    if protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter as Grpc

        endpoint = logs_endpoint or base_endpoint
        return Grpc(endpoint=endpoint, headers=headers, timeout=timeout)
    # a signal-specific endpoint is used as is; the base one gets the logs path
    http_endpoint = logs_endpoint or f"{(base_endpoint or '').rstrip('/')}/v1/logs"
    if protocol == "http/protobuf":
        from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter as Http

        return Http(endpoint=http_endpoint, headers=headers, timeout=timeout)
    if protocol == "http/json":
        return OtlpHttpJsonLogExporter(
            http_endpoint,
            headers=headers,
            timeout=timeout,
            certificate_file=env.get("OTEL_EXPORTER_OTLP_LOGS_CERTIFICATE")
            or env.get("OTEL_EXPORTER_OTLP_CERTIFICATE"),
            compression=env.get("OTEL_EXPORTER_OTLP_LOGS_COMPRESSION")
            or env.get("OTEL_EXPORTER_OTLP_COMPRESSION"),
        )
    raise AuditConfigurationError(
        f"OTLP protocol {protocol!r} is not supported; use 'grpc', 'http/protobuf' or 'http/json'"
    )


def _checkpoint_key(
    given: Ed25519PrivateKey | str | os.PathLike[str] | None, env: Mapping[str, str]
) -> Ed25519PrivateKey | None:
    if isinstance(given, Ed25519PrivateKey):
        return given
    if given is not None:
        return load_checkpoint_private_key(given)
    if env.get(ENV_CHECKPOINT_KEY):
        return load_checkpoint_private_key(env[ENV_CHECKPOINT_KEY])
    return None


def configure(
    *,
    service_name: str | None = None,
    event_source: str | None = None,
    keys: HmacKeyRing | None = None,
    checkpoint_key: Ed25519PrivateKey | str | os.PathLike[str] | None = None,
    checkpoint_every: int = 1000,
    checkpoint_interval: float | None = 60.0,
    exporter: LogRecordExporter | None = None,
    processor: LogRecordProcessor | None = None,
    trail_path: str | os.PathLike[str] | None = None,
    fsync: FsyncPolicy | str = FsyncPolicy.EVERY_EXPORT,
    delivery: str | None = None,
    spool_dir: str | os.PathLike[str] | None = None,
    spool_max_bytes: int | None = None,
    spool_fsync: str | None = None,
    meter_provider: MeterProvider | None = None,
    resource_attributes: Mapping[str, Any] | None = None,
    max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES,
    pseudonymize: Pseudonymizer | None = None,
    set_default: bool = True,
    environ: Mapping[str, str] | None = None,
) -> AuditLogger:
    """Build an audit pipeline and (by default) make it the one `audit_event()` uses.

    Export goes, in order of precedence, to `processor`, to `exporter`, to OTLP
    when `OTEL_EXPORTER_OTLP_(LOGS_)ENDPOINT` is set, else to the embedded
    append-only file at `trail_path` (or `AUDIT_SDK_TRAIL_PATH`, or
    `audit-trail/audit.jsonl`). `delivery` (or `AUDIT_SDK_DELIVERY`) picks how:
    "memory" (default), or a disk spool in `spool_dir` with "durable",
    "fail_closed" or "best_effort" (docs/delivery.md). HMAC keys come from `keys` or the
    `AUDIT_SDK_HMAC_KEY*` variables; the checkpoint key from `checkpoint_key` or
    `AUDIT_SDK_CHECKPOINT_KEY` (a PEM path). `pseudonymize` replaces the values
    of the fields it marks sensitive by keyed pseudonyms before signing (docs/pii.md).
    """
    env = os.environ if environ is None else environ
    validate_limits(checkpoint_every=checkpoint_every, max_record_bytes=max_record_bytes)
    delivery_options = resolve_delivery(  # durable spool (docs/delivery.md) or in-memory
        delivery=delivery,
        spool_dir=spool_dir,
        spool_max_bytes=spool_max_bytes,
        spool_fsync=spool_fsync,
        meter_provider=meter_provider,
        processor_given=processor is not None,
        env=env,
    )
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        raise AuditConfigurationError(
            "OTEL_SDK_DISABLED=true would drop every audit record; unset it for audit-sdk"
        )
    ring = keys or HmacKeyRing.from_env(env)
    if ring is None:
        raise KeyConfigurationError(
            "no HMAC key: pass keys=HmacKeyRing(...) or set AUDIT_SDK_HMAC_KEY, "
            "AUDIT_SDK_HMAC_KEYS or AUDIT_SDK_HMAC_KEY_FILE"
        )
    if pseudonymize is not None:
        if not isinstance(pseudonymize, Pseudonymizer):
            raise AuditConfigurationError("pseudonymize must be an audit_sdk.pii.Pseudonymizer")
        if any(pseudonymize.uses_key(ring.get(kid) or b"") for kid in ring.key_ids):
            raise KeyConfigurationError(
                "the pseudonym key must not be an HMAC signing key: destroying it must "
                "erase the link to people while the signing keys stay for verification"
            )
    signer = _checkpoint_key(checkpoint_key, env)
    if signer is None:
        _log.warning(
            "no checkpoint key (AUDIT_SDK_CHECKPOINT_KEY): checkpoints are not signed, "
            "so the trail cannot be authenticated without the HMAC key"
        )

    attributes: dict[str, Any] = dict(resource_attributes or {})
    if service_name is None:
        service_name = env.get("OTEL_SERVICE_NAME") or None
    if service_name is not None:
        attributes["service.name"] = service_name
    attributes[n.INTEGRITY_ALGORITHM] = "HMAC-SHA256"
    resource = Resource.create(attributes)
    resolved_name = str(resource.attributes.get("service.name") or "unknown_service")

    if processor is None:
        if exporter is None:
            exporter = _otlp_exporter(env)
        if exporter is None:
            path = Path(trail_path or env.get(ENV_TRAIL_PATH) or DEFAULT_TRAIL_PATH)
            exporter = OtlpJsonFileExporter(path, fsync=fsync)
        processor = (
            ReliableBatchProcessor(exporter)
            if delivery_options is None
            else delivery_options.build(exporter)
        )
    elif exporter is not None:
        raise AuditConfigurationError("pass either processor= or exporter=, not both")

    limits = LogRecordLimits(
        max_log_record_attributes=LogRecordLimits.UNSET,
        max_log_record_attribute_length=LogRecordLimits.UNSET,
    )
    provider = LoggerProvider(resource=resource, shutdown_on_exit=False, log_record_limits=limits)
    provider.add_log_record_processor(processor)
    otel_logger = provider.get_logger(_SCOPE, _VERSION)

    logger = AuditLogger(
        otel_logger,
        keys=ring,
        service_name=resolved_name,
        event_source=event_source or quote(resolved_name, safe="-._~:/"),
        checkpoint_key=signer,
        checkpoint_every=checkpoint_every,
        checkpoint_interval=checkpoint_interval,
        max_record_bytes=max_record_bytes,
        on_close=provider.shutdown,
        pseudonymizer=pseudonymize,
    )
    logger.processor = processor
    _close_at_exit(logger)
    if set_default:
        previous = install_default(logger)
        if previous is not None and previous is not logger:
            previous.close()
    return logger


def install_default(logger: AuditLogger | None) -> AuditLogger | None:
    """Make `logger` the default and return the previous one (left open)."""
    global _default
    with _default_lock:
        previous, _default = _default, logger
    return previous


def get_audit_logger() -> AuditLogger:
    """The logger that `audit_event()` and `@audited` use by default."""
    logger = _default
    if logger is None or logger.closed:
        raise AuditNotConfigured(
            "audit-sdk is not configured (or was shut down): call audit_sdk.configure() first"
        )
    return logger


def shutdown() -> None:
    """Close the default logger: emit its end record, flush and stop its pipeline."""
    global _default
    with _default_lock:
        logger, _default = _default, None
    if logger is not None:
        logger.close()


_OPEN: weakref.WeakSet[AuditLogger] = weakref.WeakSet()


def _close_at_exit(logger: AuditLogger) -> None:
    _OPEN.add(logger)


@atexit.register
def _close_all() -> None:
    for logger in list(_OPEN):
        try:
            logger.close()
        except Exception as exc:  # at exit there is no caller left to raise to
            _log.error("closing audit stream %s at exit failed: %s", logger.stream_id, exc)
