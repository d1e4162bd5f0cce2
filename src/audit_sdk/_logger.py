"""AuditLogger: builds, signs, chains and emits audit records on one stream.

One AuditLogger is one stream (SPEC §1 "Chain"). Building a record happens
outside the stream lock; numbering, hashing, signing and handing the record to
the OTel logger happen inside it, so the chain has no gaps or forks and the
processor sees records in sequence order. A forked child starts a new stream.
"""

from __future__ import annotations

import logging
import math
import os
import re
import threading
import time
import weakref
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from enum import Enum, StrEnum
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, NamedTuple

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry._logs import Logger as OtelLogger
from opentelemetry._logs import LogRecord
from opentelemetry.sdk._logs import Logger as SdkLogger
from opentelemetry.sdk._logs import LogRecordLimits, ReadWriteLogRecord
from opentelemetry.trace import SpanContext

from audit_sdk._canonical import MacKey, record_hash, signing_object
from audit_sdk._checkpoint import sign_checkpoint
from audit_sdk._context import AuditContext
from audit_sdk._context import current_context as _current_context
from audit_sdk._errors import (
    AuditConfigurationError,
    AuditDeliveryError,
    AuditNotConfigured,
    InvalidAuditEvent,
    RecordTooLarge,
)
from audit_sdk._jcs import canonicalize_fast, needs_exact_path
from audit_sdk._keys import HmacKeyRing, checkpoint_key_id
from audit_sdk._names import (
    ACTION,
    ACTOR_ID,
    ACTOR_TYPE,
    ACTOR_TYPES,
    CE_ID,
    CE_SOURCE,
    CE_SPEC_VERSION,
    CE_SUBJECT,
    CE_TYPE,
    CHECKPOINT_EVENT,
    CHECKPOINT_HASH,
    CHECKPOINT_KEY_ID,
    CHECKPOINT_NUMBER,
    CHECKPOINT_SIGNATURE,
    INTEGRITY_CANON,
    INTEGRITY_KEY_ID,
    INTEGRITY_SIGNER,
    INTEGRITY_VALUE,
    OUTCOME,
    OUTCOMES,
    RECORD_ID,
    REQUEST_ID,
    RESERVED_PREFIXES,
    SCHEMA_VERSION,
    SCHEMA_VERSION_VALUE,
    SEQ_END,
    SEQ_NUMBER,
    SEQ_PREVIOUS_HASH,
    SEQ_PREVIOUS_ID,
    SEQ_STREAM_ID,
    SOURCE_ID,
    SOURCE_TYPE,
    TARGET_ID,
    TARGET_TYPE,
)
from audit_sdk._values import frozen_value, tag_attributes, tag_value

if TYPE_CHECKING:
    from audit_sdk.pii import Pseudonymizer

__all__ = ["DEFAULT_MAX_RECORD_BYTES", "ActorType", "AuditLogger", "AuditReceipt", "Outcome"]

_log = logging.getLogger("audit_sdk")

DEFAULT_MAX_RECORD_BYTES = 64 * 1024
HARD_MAX_RECORD_BYTES = 2 * 1024 * 1024  # the signing processor's own limit

_EVENT_NAME = re.compile(r"^[A-Za-z0-9_\-:/]+(\.[A-Za-z0-9_\-:/]+)*$")
_ACTION = re.compile(r"^[A-Z][A-Z0-9_]*$")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class Outcome(StrEnum):
    SUCCESS = "success"
    FAILURE = "failure"
    UNKNOWN = "unknown"


class ActorType(StrEnum):
    USER = "user"
    SERVICE = "service"
    SYSTEM = "system"


class AuditReceipt(NamedTuple):
    """What `audit_event()` returns: enough to find and prove the record later.

    A NamedTuple rather than a frozen dataclass: it is made on every call, and
    is twice as cheap to create.
    """

    record_id: str
    stream_id: str
    sequence_number: int
    record_hash: str


# Validated values in their signed (tagged) shape. These dicts are shared by every
# record that carries the value and are never mutated.
_OUTCOME_TAGS: dict[str, dict[str, str]] = {value: {"stringValue": value} for value in OUTCOMES}
_ACTOR_TYPE_TAGS: dict[str, dict[str, str]] = {
    value: {"stringValue": value} for value in ACTOR_TYPES
}
_SCHEMA_VERSION_TAG = {"stringValue": SCHEMA_VERSION_VALUE}
_SPEC_VERSION_TAG = {"stringValue": "1.0"}
_OPTIONAL_TEXT = (TARGET_ID, CE_SUBJECT, TARGET_TYPE, SOURCE_ID, SOURCE_TYPE, REQUEST_ID)
# Event names and actions seen before and found valid (programs use a handful of each).
_known_event_names: dict[str, dict[str, str]] = {}
_known_actions: dict[str, dict[str, str]] = {}
_KNOWN_LIMIT = 4096


def _remember(known: dict[str, dict[str, str]], value: str) -> dict[str, str]:
    tag = {"stringValue": value}
    if len(known) < _KNOWN_LIMIT:
        known[value] = tag
    return tag


_match_event_name = _EVENT_NAME.match
_match_action = _ACTION.match


# An optional second source of ambient context (e.g. structlog's contextvars), consulted by
# emit() only while one is installed: see `set_context_fallback`.
_context_fallback: Callable[[AuditContext], AuditContext] | None = None


def set_context_fallback(
    fallback: Callable[[AuditContext], AuditContext] | None,
) -> Callable[[AuditContext], AuditContext] | None:
    """Install `fallback(ctx) -> ctx`, which fills fields the audit context leaves empty.

    Returns the previous fallback. Used by `audit_sdk.integrations.structlog_context`.
    """
    global _context_fallback
    previous, _context_fallback = _context_fallback, fallback
    return previous


def new_uuid4() -> str:
    """A random (version 4, RFC 4122 variant) UUID string."""
    h = os.urandom(16).hex()
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{_VARIANT[h[16]]}{h[17:20]}-{h[20:]}"


_VARIANT = {d: "89ab"[int(d, 16) & 3] for d in "0123456789abcdef"}


def _text(field: str, value: object) -> str:
    """`value` as a non-empty string, or InvalidAuditEvent naming `field`."""
    if type(value) is str and value and not value.isspace():
        return value
    if isinstance(value, Enum):
        return _text(field, value.value)
    if not isinstance(value, str):
        raise InvalidAuditEvent(field, f"must be a string, got {type(value).__name__}")
    if not value or value.isspace():
        raise InvalidAuditEvent(field, "must not be empty")
    return str(value)


def validate_event_name(event_name: object) -> str:
    if type(event_name) is str and _match_event_name(event_name) and event_name != CHECKPOINT_EVENT:
        return event_name
    name = _text("event_name", event_name)  # a str subclass such as a StrEnum member
    if _match_event_name(name) and name != CHECKPOINT_EVENT:
        return name
    if name == CHECKPOINT_EVENT:
        raise InvalidAuditEvent("event_name", f"{CHECKPOINT_EVENT!r} is reserved for the SDK")
    raise InvalidAuditEvent(
        "event_name", f"{name!r} must be a dot-separated event type like 'user.data.export'"
    )


def validate_action(action: object) -> str:
    if type(action) is str and _match_action(action):
        return action
    text = _text("action", action)
    if _match_action(text):
        return text
    raise InvalidAuditEvent("action", f"{text!r} must be an upper-case verb such as 'EXPORT'")


def canonical_details(details: object) -> str:
    """The record body: the details mapping as RFC 8785 JSON text."""
    if type(details) is not dict and not isinstance(details, Mapping):
        raise InvalidAuditEvent("details", f"must be a mapping, got {type(details).__name__}")
    try:
        return canonicalize_fast(details, needs_exact_path(details)).decode("utf-8")
    except InvalidAuditEvent as exc:
        raise InvalidAuditEvent(f"details.{exc.field}", exc.problem) from None


def _timestamp_ns(value: int | float | datetime | None, now: int) -> int:
    if value is None:
        return now
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise InvalidAuditEvent("timestamp", "datetime must be timezone-aware")
        ns = (value - _EPOCH) // timedelta(microseconds=1) * 1000
    elif isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidAuditEvent("timestamp", "must be ns since epoch (int) or an aware datetime")
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidAuditEvent("timestamp", "must be finite")
        ns = int(value * 1e9)  # seconds as float, as time.time() gives
    else:
        ns = value
    if ns <= 0:
        raise InvalidAuditEvent("timestamp", "must be after the epoch")
    if ns > now:
        raise InvalidAuditEvent(
            "timestamp", "is in the future (ObservedTimestamp must be >= Timestamp)"
        )
    return ns


def validate_limits(*, checkpoint_every: int, max_record_bytes: int) -> None:
    if checkpoint_every < 1:
        raise AuditConfigurationError("checkpoint_every must be >= 1")
    if not 1024 <= max_record_bytes <= HARD_MAX_RECORD_BYTES:
        raise AuditConfigurationError(
            f"max_record_bytes must be between 1024 and {HARD_MAX_RECORD_BYTES}"
        )


class _AuditLogRecord(LogRecord):
    """The API LogRecord, set from values the SDK already holds.

    LogRecord.__init__ looks the span up in the context again; the signed trace
    ids came from that same lookup. tests/test_emit.py checks that this sets
    exactly the fields LogRecord.__init__ sets.
    """

    def __init__(
        self,
        *,
        timestamp: int,
        observed_timestamp: int,
        context: otel_context.Context,
        span_context: SpanContext,
        body: str | None,
        attributes: dict[str, Any],
        event_name: str,
    ) -> None:
        self.timestamp = timestamp
        self.observed_timestamp = observed_timestamp
        self.context = context
        self.trace_id = span_context.trace_id
        self.span_id = span_context.span_id
        self.trace_flags = span_context.trace_flags
        self.severity_text = None
        self.severity_number = None
        self.body = body
        self.attributes = attributes
        self.event_name = event_name
        self.exception = None

    def __copy__(self) -> _AuditLogRecord:
        # What copy.copy() does for a plain object, without its generic
        # __reduce_ex__ path: the batch processors copy every record.
        copied = object.__new__(_AuditLogRecord)
        copied.__dict__.update(self.__dict__)
        return copied


class _SignedLogRecord(ReadWriteLogRecord):
    """A ReadWriteLogRecord that carries the signed attributes exactly as signed.

    The SDK's own record re-validates every attribute into a BoundedAttributes,
    which may truncate or drop values under OTEL_*_LIMIT settings: either would
    break the signature. The SDK validated the attributes already; they are
    handed on read-only, so a processor that tried to change a signed record
    fails loudly instead of producing a record that no longer verifies.
    """

    def __post_init__(self) -> None:
        attributes = self.log_record.attributes
        if type(attributes) is not dict:  # the SDK passes its own fresh dict: no copy needed
            attributes = dict(attributes or {})
        self.log_record.attributes = MappingProxyType(attributes)


# what _SignedLogRecord honours: no limit (and no environment lookup per record)
_NO_LIMITS = LogRecordLimits(
    max_log_record_attributes=LogRecordLimits.UNSET,
    max_log_record_attribute_length=LogRecordLimits.UNSET,
)


class _Stream:
    __slots__ = (
        "closed",
        "id",
        "last_checkpoint_at",
        "last_checkpointed",
        "next_number",
        "previous_hash",
        "previous_id",
    )

    def __init__(self) -> None:
        self.id = new_uuid4()
        self.next_number = 1
        self.previous_hash: str | None = None
        self.previous_id: str | None = None
        self.last_checkpointed = 0  # number of the last record a checkpoint covers
        self.last_checkpoint_at = time.monotonic()
        self.closed = False


class AuditLogger:
    """Emits signed, chained audit records on one stream through an OTel logger."""

    def __init__(
        self,
        otel_logger: OtelLogger,
        *,
        keys: HmacKeyRing,
        service_name: str,
        event_source: str,
        checkpoint_key: Ed25519PrivateKey | None = None,
        checkpoint_every: int = 1000,
        checkpoint_interval: float | None = 60.0,
        max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES,
        on_close: Any = None,
        pseudonymizer: Pseudonymizer | None = None,
    ) -> None:
        validate_limits(checkpoint_every=checkpoint_every, max_record_bytes=max_record_bytes)
        self._otel = otel_logger
        # With the SDK's Logger, records are built here (see _SignedLogRecord);
        # any other Logger gets the API's keyword emit.
        self._sdk_logger = otel_logger if isinstance(otel_logger, SdkLogger) else None
        self._keys = keys
        self._key_id = keys.active_id
        self._mac = MacKey(keys.active_key)
        self.service_name = service_name
        self.event_source = event_source
        self._event_source_tag = {"stringValue": event_source}
        self._checkpoint_key = checkpoint_key
        self._checkpoint_key_id = (
            checkpoint_key_id(checkpoint_key.public_key()) if checkpoint_key else None
        )
        self._checkpoint_every = checkpoint_every
        self._checkpoint_interval = checkpoint_interval
        self._max_bytes = max_record_bytes
        self._on_close = on_close
        self._pseudonymizer = pseudonymizer
        self.processor: Any = None  # set by configure(): the export processor, for its stats
        self._lock = threading.Lock()
        self._stream = _Stream()
        # the span of the last record and its trace and span ids as hex (guarded by _lock)
        self._span_ctx: SpanContext | None = None
        self._span_hex: tuple[str | None, str | None] = (None, None)
        self._timer_stop = threading.Event()
        self._timer: threading.Thread | None = None
        self._start_timer()
        _LOGGERS.add(self)

    # -- stream lifecycle ---------------------------------------------------

    @property
    def stream_id(self) -> str:
        return self._stream.id

    @property
    def closed(self) -> bool:
        return self._stream.closed

    @property
    def delivery_stats(self) -> Any:
        """The export processor's counters (DeliveryStats, or SpoolStats for a spool), or None."""
        return getattr(self.processor, "stats", None)

    def _start_timer(self) -> None:
        if self._checkpoint_interval and self._checkpoint_key is not None:
            self._timer_stop = threading.Event()
            self._timer = threading.Thread(
                target=_checkpoint_timer,
                args=(weakref.ref(self), self._timer_stop, self._checkpoint_interval),
                name="audit-sdk-checkpoint",
                daemon=True,
            )
            self._timer.start()

    def _after_fork_in_child(self) -> None:
        self._lock = threading.Lock()
        self._stream = _Stream()
        self._start_timer()

    # -- emitting -----------------------------------------------------------

    def emit(
        self,
        event_name: str,
        *,
        action: str,
        outcome: str | Outcome = Outcome.SUCCESS,
        actor: str | None = None,
        actor_type: str | ActorType | None = None,
        target: str | None = None,
        target_type: str | None = None,
        source: str | None = None,
        source_type: str | None = None,
        request_id: str | None = None,
        details: Mapping[str, Any] | None = None,
        attributes: Mapping[str, Any] | None = None,
        timestamp: int | float | datetime | None = None,
        record_id: str | None = None,
    ) -> AuditReceipt:
        """Validate, sign, chain and emit one audit record; see `audit_sdk.audit_event`."""
        # Validation is written as cheap checks with a slow path that explains the failure:
        # this runs on every audited call.
        event_tag = _known_event_names.get(event_name) if type(event_name) is str else None
        if event_tag is None:
            event_tag = _remember(_known_event_names, validate_event_name(event_name))
        action_tag = _known_actions.get(action) if type(action) is str else None
        if action_tag is None:
            action_tag = _remember(_known_actions, validate_action(action))
        outcome_tag = _OUTCOME_TAGS.get(outcome) if isinstance(outcome, str) else None
        if outcome_tag is None:
            raise InvalidAuditEvent("outcome", f"{outcome!r} is not one of {sorted(OUTCOMES)}")
        ctx = _current_context()
        if _context_fallback is not None:
            ctx = _context_fallback(ctx)
        actor = ctx.actor or "anonymous" if actor is None else _text("actor", actor)
        if actor_type is None:
            actor_type = ctx.actor_type or "user"
        type_tag = _ACTOR_TYPE_TAGS.get(actor_type) if isinstance(actor_type, str) else None
        if type_tag is None:
            raise InvalidAuditEvent(
                "actor_type", f"{actor_type!r} is not one of {sorted(ACTOR_TYPES)}"
            )
        record_id = new_uuid4() if record_id is None else _text("record_id", record_id)
        event_name = event_tag["stringValue"]

        attrs: dict[str, Any] = {
            RECORD_ID: record_id,
            ACTOR_ID: actor,
            ACTOR_TYPE: type_tag["stringValue"],
            ACTION: action_tag["stringValue"],
            OUTCOME: outcome_tag["stringValue"],
            SCHEMA_VERSION: SCHEMA_VERSION_VALUE,
            CE_ID: record_id,
            CE_SOURCE: self.event_source,
            CE_SPEC_VERSION: "1.0",
            CE_TYPE: event_name,
        }
        if target is not None:
            attrs[TARGET_ID] = attrs[CE_SUBJECT] = _text("target", target)
        if target_type is not None:
            attrs[TARGET_TYPE] = _text("target_type", target_type)
        if source is not None or ctx.source is not None:
            attrs[SOURCE_ID] = ctx.source if source is None else _text("source", source)
        if source_type is not None or ctx.source_type is not None:
            attrs[SOURCE_TYPE] = (
                ctx.source_type if source_type is None else _text("source_type", source_type)
            )
        if request_id is not None or ctx.request_id is not None:
            attrs[REQUEST_ID] = (
                ctx.request_id if request_id is None else _text("request_id", request_id)
            )
        tagged: dict[str, Any]
        if self._pseudonymizer is None:
            # the tagged shapes of repeating values are shared, not rebuilt per record
            id_tag = {"stringValue": record_id}
            tagged = {
                RECORD_ID: id_tag,
                ACTOR_ID: {"stringValue": actor},
                ACTOR_TYPE: type_tag,
                ACTION: action_tag,
                OUTCOME: outcome_tag,
                SCHEMA_VERSION: _SCHEMA_VERSION_TAG,
                CE_ID: id_tag,
                CE_SOURCE: self._event_source_tag,
                CE_SPEC_VERSION: _SPEC_VERSION_TAG,
                CE_TYPE: event_tag,
            }
            if len(attrs) > len(tagged):
                for key in _OPTIONAL_TEXT:
                    if key in attrs:
                        tagged[key] = {"stringValue": attrs[key]}
        else:  # sensitive values become keyed pseudonyms
            details, attributes = self._pseudonymizer.apply(attrs, details, attributes)
            tagged = {key: {"stringValue": value} for key, value in attrs.items()}
        exact = False
        if attributes:
            for key, value in attributes.items():
                if not isinstance(key, str) or not key:
                    raise InvalidAuditEvent("attributes", "keys must be non-empty strings")
                if key.startswith(RESERVED_PREFIXES):
                    raise InvalidAuditEvent(
                        f"attributes.{key}",
                        "audit.* and cloudevents.* attributes are set by the SDK",
                    )
                tagged[key], value_exact = tag_value(value, f"attributes.{key}")
                exact = exact or value_exact or (not key.isascii() and max(key) > "\uffff")
                attrs[key] = value if type(value) is str else frozen_value(value)
        body = None if details is None else canonical_details(details)
        now = time.time_ns()
        ts = now if timestamp is None else _timestamp_ns(timestamp, now)
        with self._lock:
            receipt = self._sign_and_emit(event_name, attrs, tagged, exact, body, ts, now)
            stream = self._stream
            if stream.next_number - 1 - stream.last_checkpointed >= self._checkpoint_every:
                try:
                    self._checkpoint_locked(closed=False)
                except AuditDeliveryError as exc:
                    # The event itself is recorded; raising now would tell the caller it
                    # was not. A refused checkpoint takes no number, so the chain has no
                    # gap, and the next record tries the checkpoint again.
                    _log.warning(
                        "audit checkpoint not recorded (%s); retried after the next record", exc
                    )
        return receipt

    def _sign_and_emit(
        self,
        event_name: str,
        attrs: dict[str, Any],
        tagged: dict[str, Any],
        exact: bool,
        body: str | None,
        ts: int,
        observed: int,
    ) -> AuditReceipt:
        """Number, hash, sign and emit; the caller holds the stream lock.

        The trace ids signed are read from the same context handed to the OTel
        logger, so the SDK cannot stamp the record with a different trace.
        """
        ctx = otel_context.get_current()
        span_ctx = trace.get_current_span(ctx).get_span_context()
        if span_ctx is not self._span_ctx:  # records of one span share its ids' hex form
            if span_ctx.is_valid:
                self._span_hex = (
                    format(span_ctx.trace_id, "032x"),
                    format(span_ctx.span_id, "016x"),
                )
            else:
                self._span_hex = (None, None)
            self._span_ctx = span_ctx
        trace_id, span_id = self._span_hex
        stream = self._stream
        if stream.closed:
            raise AuditNotConfigured("this audit stream is closed; configure a new audit logger")
        number = stream.next_number
        attrs[SEQ_STREAM_ID] = stream.id
        tagged[SEQ_STREAM_ID] = {"stringValue": stream.id}
        attrs[SEQ_NUMBER] = number
        tagged[SEQ_NUMBER] = {"intValue": str(number)}
        if stream.previous_hash is not None:
            attrs[SEQ_PREVIOUS_HASH] = stream.previous_hash
            tagged[SEQ_PREVIOUS_HASH] = {"stringValue": stream.previous_hash}
            attrs[SEQ_PREVIOUS_ID] = stream.previous_id
            tagged[SEQ_PREVIOUS_ID] = {"stringValue": stream.previous_id}
        canonical = canonicalize_fast(
            signing_object(
                event_name=event_name,
                body=body,
                timestamp=ts,
                observed_timestamp=observed,
                trace_id=trace_id,
                span_id=span_id,
                tagged_attributes=tagged,
            ),
            exact,
        )
        if len(canonical) > self._max_bytes:
            raise RecordTooLarge(
                "record",
                f"canonical size {len(canonical)} bytes exceeds max_record_bytes={self._max_bytes}",
            )
        digest = record_hash(canonical)
        attrs[INTEGRITY_VALUE] = self._mac.mac(canonical)
        attrs[INTEGRITY_SIGNER] = "producer"
        attrs[INTEGRITY_CANON] = "jcs"
        attrs[INTEGRITY_KEY_ID] = self._key_id
        sdk_logger = self._sdk_logger
        if sdk_logger is not None:
            # the SDK Logger takes a ReadWriteLogRecord as it is (its annotation says only
            # the API LogRecord): resource and scope are set here, attributes left alone
            sdk_logger.emit(
                _SignedLogRecord(  # type: ignore[arg-type]
                    log_record=_AuditLogRecord(
                        timestamp=ts,
                        observed_timestamp=observed,
                        context=ctx,
                        span_context=span_ctx,
                        body=body,
                        attributes=attrs,
                        event_name=event_name,
                    ),
                    resource=sdk_logger.resource,
                    instrumentation_scope=sdk_logger.instrumentation_scope,
                    limits=_NO_LIMITS,
                )
            )
        else:
            self._otel.emit(
                timestamp=ts,
                observed_timestamp=observed,
                context=ctx,
                body=body,
                attributes=attrs,
                event_name=event_name,
            )
        record_id = attrs[RECORD_ID]
        stream.next_number = number + 1
        stream.previous_hash = digest
        stream.previous_id = record_id
        return AuditReceipt(record_id, stream.id, number, digest)

    # -- checkpoints and close ----------------------------------------------

    def _system_attrs(self, record_id: str) -> dict[str, Any]:
        return {
            RECORD_ID: record_id,
            ACTOR_ID: self.service_name,
            ACTOR_TYPE: "system",
            ACTION: "CHECKPOINT",
            OUTCOME: "success",
            SCHEMA_VERSION: SCHEMA_VERSION_VALUE,
            CE_ID: record_id,
            CE_SOURCE: self.event_source,
            CE_SPEC_VERSION: "1.0",
            CE_TYPE: CHECKPOINT_EVENT,
        }

    def _checkpoint_locked(self, *, closed: bool) -> AuditReceipt | None:
        stream = self._stream
        covered = stream.next_number - 1
        if not closed and covered <= stream.last_checkpointed:
            return None
        record_id = new_uuid4()
        attrs = self._system_attrs(record_id)
        previous_hash = stream.previous_hash or ""
        attrs[CHECKPOINT_NUMBER] = covered
        attrs[CHECKPOINT_HASH] = previous_hash
        if self._checkpoint_key is not None:
            attrs[CHECKPOINT_SIGNATURE] = sign_checkpoint(
                self._checkpoint_key, stream.id, covered, previous_hash, closed=closed
            )
            attrs[CHECKPOINT_KEY_ID] = self._checkpoint_key_id
        if closed:
            attrs[SEQ_END] = True
        tagged, exact = tag_attributes(attrs)
        now = time.time_ns()
        receipt = self._sign_and_emit(CHECKPOINT_EVENT, attrs, tagged, exact, None, now, now)
        # the checkpoint itself counts as covered: an idle stream does not checkpoint again
        stream.last_checkpointed = receipt.sequence_number
        stream.last_checkpoint_at = time.monotonic()
        return receipt

    def checkpoint(self) -> AuditReceipt | None:
        """Emit a checkpoint now if records arrived since the last one."""
        with self._lock:
            if self._stream.closed:
                return None
            return self._checkpoint_locked(closed=False)

    def _timer_tick(self, interval: float) -> None:
        with self._lock:
            stream = self._stream
            if stream.closed or time.monotonic() - stream.last_checkpoint_at < interval:
                return
            self._checkpoint_locked(closed=False)

    def close(self) -> AuditReceipt | None:
        """Emit the end record (a closing checkpoint), then flush and shut the pipeline down."""
        with self._lock:
            if self._stream.closed:
                return None
            # an empty stream has nothing to close over: it simply emits nothing
            receipt = self._checkpoint_locked(closed=True) if self._stream.next_number > 1 else None
            self._stream.closed = True
        self._timer_stop.set()
        if self._on_close is not None:
            self._on_close()
        return receipt


def _checkpoint_timer(
    ref: weakref.ref[AuditLogger], stop: threading.Event, interval: float
) -> None:
    while not stop.wait(min(interval, 1.0)):
        logger = ref()
        if logger is None:
            return
        try:
            logger._timer_tick(interval)
        except Exception as exc:  # the next tick retries
            _log.warning("audit checkpoint failed (%s); retrying at the next tick", exc)
        del logger


_LOGGERS: weakref.WeakSet[AuditLogger] = weakref.WeakSet()


def _reinit_loggers_in_child() -> None:
    for logger in list(_LOGGERS):
        logger._after_fork_in_child()


os.register_at_fork(after_in_child=_reinit_loggers_in_child)
