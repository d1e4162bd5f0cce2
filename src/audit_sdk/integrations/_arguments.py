"""The audit_event() arguments that the logging integrations take from a log event."""

from __future__ import annotations

# Plain-text arguments, read from structlog event dicts and logging `extra`.
TEXT_ARGUMENTS: tuple[str, ...] = (
    "action",
    "outcome",
    "actor",
    "actor_type",
    "target",
    "target_type",
    "source",
    "source_type",
    "request_id",
)
