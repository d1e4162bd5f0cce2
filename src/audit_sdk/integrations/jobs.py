"""Carry the audit context into threads and worker jobs, so they keep their actor.

asyncio tasks need nothing: a task copies the context when it is created, so
`asyncio.create_task()` inside a request keeps that request's actor even after
the request has ended. So does `asyncio.to_thread()`. Plain thread pools and
job queues do not copy it:

    from audit_sdk.integrations import jobs

    executor.submit(jobs.carry_context(export_invoice), "inv-1")    # thread pool

    queue.put({"invoice": "inv-1", "audit": jobs.capture_context()})  # producer
    ...
    with jobs.restored_context(message["audit"]):                      # worker
        export_invoice(message["invoice"])

`capture_context()` is a plain dict of strings (JSON-safe, for job headers
or arguments); `restored_context()` refuses unknown keys and bad values.
"""

from __future__ import annotations

import contextvars
import functools
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict
from typing import ParamSpec, TypeVar

from audit_sdk._context import AuditContext, context, current_context
from audit_sdk._errors import InvalidAuditEvent

__all__ = ["capture_context", "carry_context", "restored_context"]

P = ParamSpec("P")
R = TypeVar("R")

_FIELDS = frozenset(AuditContext.__dataclass_fields__)


def capture_context() -> dict[str, str]:
    """The current audit context as a dict of its set fields."""
    return {key: value for key, value in asdict(current_context()).items() if value is not None}


@contextmanager
def restored_context(fields: Mapping[str, str] | None) -> Iterator[AuditContext]:
    """Bind a context captured by `capture_context()` for the block (None binds nothing)."""
    fields = dict(fields or {})
    unknown = sorted(set(fields) - _FIELDS)
    if unknown:
        raise InvalidAuditEvent("context", f"unknown fields {unknown}")
    with context(**fields) as bound:
        yield bound


def carry_context(func: Callable[P, R]) -> Callable[P, R]:
    """`func` bound to a copy of the caller's whole context (audit context, trace, ...).

    Call it where the work is handed over (e.g. `executor.submit(carry_context(f), x)`).
    """
    ctx = contextvars.copy_context()

    @functools.wraps(func)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        return ctx.copy().run(func, *args, **kwargs)

    return run
