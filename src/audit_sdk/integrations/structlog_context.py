"""Let `audit_event()` read the actor and request id bound through `structlog.contextvars`.

    import structlog
    from audit_sdk.integrations.structlog_context import use_structlog_context

    use_structlog_context()                      # once, at start-up
    structlog.contextvars.bind_contextvars(actor="alice", request_id="req-7")
    audit_sdk.audit_event("invoice.export", action="EXPORT")   # actor alice, request req-7

Precedence, per field: the argument given to `audit_event()`, then
`audit_sdk.context()` / `bind_context()`, then structlog's contextvars, then
the SDK's default (`anonymous`, `user`). Until `use_structlog_context()` is
called, `audit_event()` does not look at structlog at all (no cost).
`audit_sdk.current_context()` shows only the audit context itself.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

import structlog.contextvars

from audit_sdk._context import AuditContext
from audit_sdk._logger import set_context_fallback

__all__ = ["DEFAULT_KEYS", "stop_using_structlog_context", "use_structlog_context"]

_FIELDS = ("actor", "actor_type", "source", "source_type", "request_id")

# audit context field -> structlog contextvar key
DEFAULT_KEYS: Mapping[str, str] = {field: field for field in _FIELDS}

_installed: Callable[[AuditContext], AuditContext] | None = None


def _text(value: Any) -> str | None:
    """A usable context value: a non-empty string, an int or a UUID (as text); else None."""
    if isinstance(value, str):
        return value if value and not value.isspace() else None
    if isinstance(value, (int, uuid.UUID)) and not isinstance(value, bool):
        return str(value)
    return None


def use_structlog_context(
    *,
    actor: str = "actor",
    actor_type: str = "actor_type",
    source: str = "source",
    source_type: str = "source_type",
    request_id: str = "request_id",
) -> None:
    """Make `audit_event()` fill empty context fields from structlog's contextvars.

    Each argument names the structlog key for that field, e.g.
    `use_structlog_context(actor="user_id")` reads `bind_contextvars(user_id=...)`.
    Values must be non-empty strings (ints and UUIDs are taken as text); others
    are ignored. Calling it again replaces the mapping.
    """
    keys = {
        "actor": actor,
        "actor_type": actor_type,
        "source": source,
        "source_type": source_type,
        "request_id": request_id,
    }
    for field, key in keys.items():
        if not isinstance(key, str) or not key:
            raise ValueError(f"{field}: the structlog key must be a non-empty string")
    pairs = tuple(keys.items())

    def fill(ctx: AuditContext) -> AuditContext:
        bound = structlog.contextvars.get_contextvars()
        if not bound:
            return ctx
        updates = {}
        for field, key in pairs:
            if getattr(ctx, field) is None and key in bound:
                value = _text(bound[key])
                if value is not None:
                    updates[field] = value
        return replace(ctx, **updates) if updates else ctx

    global _installed
    _installed = fill
    set_context_fallback(fill)


def stop_using_structlog_context() -> None:
    """Undo `use_structlog_context()`: `audit_event()` no longer reads structlog."""
    global _installed
    if _installed is not None:
        set_context_fallback(None)
        _installed = None
