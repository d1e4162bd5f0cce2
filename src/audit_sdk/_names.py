"""Attribute names of the record contract (SPEC §1), in one place."""

from __future__ import annotations

from typing import Final

RECORD_ID: Final = "audit.record.id"
ACTOR_ID: Final = "audit.actor.id"
ACTOR_TYPE: Final = "audit.actor.type"
ACTION: Final = "audit.action"
OUTCOME: Final = "audit.outcome"
TARGET_ID: Final = "audit.target.id"
TARGET_TYPE: Final = "audit.target.type"
SOURCE_ID: Final = "audit.source.id"
SOURCE_TYPE: Final = "audit.source.type"
SCHEMA_VERSION: Final = "audit.schema.version"
REQUEST_ID: Final = "audit.request.id"  # ext

CE_ID: Final = "cloudevents.event_id"
CE_SOURCE: Final = "cloudevents.event_source"
CE_SPEC_VERSION: Final = "cloudevents.event_spec_version"
CE_TYPE: Final = "cloudevents.event_type"
CE_SUBJECT: Final = "cloudevents.event_subject"

SEQ_STREAM_ID: Final = "audit.sequence.stream_id"
SEQ_NUMBER: Final = "audit.sequence.number"
SEQ_PREVIOUS_HASH: Final = "audit.sequence.previous_hash"
SEQ_PREVIOUS_ID: Final = "audit.sequence.previous_record_id"
SEQ_END: Final = "audit.sequence.end"

INTEGRITY_VALUE: Final = "audit.integrity.value"
INTEGRITY_SIGNER: Final = "audit.integrity.signer"
INTEGRITY_CANON: Final = "audit.integrity.canonicalization"
INTEGRITY_KEY_ID: Final = "audit.integrity.key_id"
INTEGRITY_ALGORITHM: Final = "audit.integrity.algorithm"  # on the Resource

CHECKPOINT_EVENT: Final = "audit.checkpoint"
CHECKPOINT_NUMBER: Final = "audit.checkpoint.number"
CHECKPOINT_HASH: Final = "audit.checkpoint.hash"
CHECKPOINT_SIGNATURE: Final = "audit.checkpoint.signature"
CHECKPOINT_KEY_ID: Final = "audit.checkpoint.key_id"

ERROR_TYPE: Final = "error.type"  # OTel semantic convention

ACTOR_TYPES: Final = frozenset({"user", "service", "system"})
OUTCOMES: Final = frozenset({"success", "failure", "unknown"})
SCHEMA_VERSION_VALUE: Final = "1"

# Attributes that the SDK owns; users may not set them through `attributes=`.
RESERVED_PREFIXES: Final = ("audit.", "cloudevents.")
