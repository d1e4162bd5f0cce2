"""Who is acting, from where, in which request: carried in a ContextVar.

Context flows into threads started with `contextvars.copy_context()` and into
asyncio tasks (which copy the context when created), so a task keeps the actor
it was started with.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace

from audit_sdk._errors import InvalidAuditEvent

__all__ = ["AuditContext", "bind_context", "context", "current_context", "reset_context"]


@dataclass(frozen=True, slots=True)
class AuditContext:
    """Ambient audit fields; any may be None (the event's own arguments win)."""

    actor: str | None = None
    actor_type: str | None = None
    source: str | None = None
    source_type: str | None = None
    request_id: str | None = None


_EMPTY = AuditContext()
_current: contextvars.ContextVar[AuditContext] = contextvars.ContextVar(
    "audit_sdk_context", default=_EMPTY
)


def current_context() -> AuditContext:
    return _current.get()


def bind_context(
    *,
    actor: str | None = None,
    actor_type: str | None = None,
    source: str | None = None,
    source_type: str | None = None,
    request_id: str | None = None,
) -> contextvars.Token[AuditContext]:
    """Overlay the given fields on the current context; undo with `reset_context(token)`."""
    given = {
        "actor": actor,
        "actor_type": actor_type,
        "source": source,
        "source_type": source_type,
        "request_id": request_id,
    }
    updates = {}
    for name, value in given.items():
        if value is None:
            continue
        if not isinstance(value, str) or not value or value.isspace():
            raise InvalidAuditEvent(f"context.{name}", f"must be a non-empty string, got {value!r}")
        updates[name] = str(value)
    return _current.set(replace(_current.get(), **updates))


def reset_context(token: contextvars.Token[AuditContext]) -> None:
    _current.reset(token)


@contextmanager
def context(
    *,
    actor: str | None = None,
    actor_type: str | None = None,
    source: str | None = None,
    source_type: str | None = None,
    request_id: str | None = None,
) -> Iterator[AuditContext]:
    """`with audit_sdk.context(actor="alice"):` binds fields for the block (nesting overlays)."""
    token = bind_context(
        actor=actor,
        actor_type=actor_type,
        source=source,
        source_type=source_type,
        request_id=request_id,
    )
    try:
        yield _current.get()
    finally:
        _current.reset(token)
