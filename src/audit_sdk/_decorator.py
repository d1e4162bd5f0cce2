"""`@audited`: one audit record per call of a sensitive function, success or failure.

The decorator never changes what the function returns or raises. It refuses
to run the function when no audit pipeline is configured (fail closed: the
sensitive action does not happen unaudited), and records argument values only
when the user names them in `record_args`.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ParamSpec, TypeVar, cast

from audit_sdk._configure import get_audit_logger
from audit_sdk._errors import InvalidAuditEvent, error_type_name
from audit_sdk._jcs import canonicalize
from audit_sdk._logger import AuditLogger, validate_action, validate_event_name

__all__ = ["audited"]

P = ParamSpec("P")
R = TypeVar("R")
TargetSpec = str | Callable[[inspect.BoundArguments], str | None] | None

_log = logging.getLogger("audit_sdk")
_NOT_EVENT_CHARS = re.compile(r"[^A-Za-z0-9_.\-]")


def _default_event_name(func: Callable[..., Any]) -> str:
    qualname = func.__qualname__.replace("<locals>.", "")
    name = f"{func.__module__}.{qualname}"
    return _NOT_EVENT_CHARS.sub("_", name).strip(".")




class _Call:
    """Everything one decorated call needs, computed before the function runs."""

    __slots__ = ("details", "logger", "target")

    def __init__(self, logger: AuditLogger, target: str | None, details: dict[str, Any] | None):
        self.logger = logger
        self.target = target
        self.details = details


def audited(
    event_name: str | None = None,
    *,
    action: str = "EXECUTE",
    target: TargetSpec = None,
    target_type: str | None = None,
    record_args: Sequence[str] = (),
    details: Mapping[str, Any] | None = None,
    actor: str | None = None,
    actor_type: str | None = None,
    logger: AuditLogger | None = None,
) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Audit every call of the decorated function (sync or async, plain or method).

    `target` names a parameter whose value is the target id, or is a callable
    that receives the bound arguments. `record_args` names the parameters whose
    values go into the record's details; no other argument is ever recorded.
    Actor, source and request id come from `audit_sdk.context()` unless given.
    """
    if isinstance(event_name, Callable) and not isinstance(event_name, str):  # type: ignore[arg-type]
        raise TypeError(
            "use @audited(...) with parentheses: @audited('user.data.export', action=...)"
        )

    validate_action(action)  # a wrong action fails at import, not at the first call

    def decorate(func: Callable[P, R]) -> Callable[P, R]:
        if inspect.isgeneratorfunction(func) or inspect.isasyncgenfunction(func):
            raise TypeError(
                f"@audited cannot decorate generator {func.__qualname__}: audit its caller"
            )
        name = validate_event_name(event_name or _default_event_name(func))
        signature = inspect.signature(func)
        for arg in record_args:
            if arg not in signature.parameters:
                raise TypeError(
                    f"record_args names {arg!r}, which {func.__qualname__} does not take"
                )
        if isinstance(target, str) and target not in signature.parameters:
            raise TypeError(f"target names {target!r}, which {func.__qualname__} does not take")
        needs_binding = bool(record_args) or target is not None

        def before(args: tuple[Any, ...], kwargs: dict[str, Any]) -> _Call:
            audit_logger = logger or get_audit_logger()  # raises before the function runs
            bound = None
            if needs_binding:
                try:
                    bound = signature.bind(*args, **kwargs)
                    bound.apply_defaults()
                except TypeError:
                    bound = None  # the call itself is wrong; the function will say so
            target_id: str | None = None
            call_details: dict[str, Any] | None = dict(details) if details else None
            if bound is not None:
                if callable(target):
                    target_id = target(bound)
                elif isinstance(target, str):
                    value = bound.arguments.get(target)
                    target_id = None if value is None else str(value)
                if record_args:
                    recorded = {arg: bound.arguments.get(arg) for arg in record_args}
                    try:
                        canonicalize(recorded)
                    except InvalidAuditEvent as exc:
                        raise InvalidAuditEvent(f"record_args.{exc.field}", exc.problem) from None
                    call_details = {**(call_details or {}), "arguments": recorded}
            return _Call(audit_logger, target_id, call_details)

        def after(call: _Call, outcome: str, exc: BaseException | None) -> None:
            attributes = {"error.type": error_type_name(exc)} if exc is not None else None
            try:
                call.logger.emit(
                    name,
                    action=action,
                    outcome=outcome,
                    actor=actor,
                    actor_type=actor_type,
                    target=call.target,
                    target_type=target_type,
                    details=call.details,
                    attributes=attributes,
                )
            except Exception as emit_error:
                # The function already ran; its result must stand. The loss is reported, not hidden.
                _log.error(
                    "audit record for %s (outcome %s) could not be emitted: %s",
                    name,
                    outcome,
                    emit_error,
                )

        def outcome_of(exc: BaseException) -> str:
            if isinstance(exc, (asyncio.CancelledError, KeyboardInterrupt, GeneratorExit)):
                return "unknown"
            return "failure"

        if inspect.iscoroutinefunction(func):
            async_func = cast(Callable[..., Any], func)

            @functools.wraps(func)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                call = before(args, kwargs)
                try:
                    result = await async_func(*args, **kwargs)
                except BaseException as exc:
                    after(call, outcome_of(exc), exc)
                    raise
                after(call, "success", None)
                return result

            return cast(Callable[P, R], async_wrapper)

        @functools.wraps(func)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            call = before(args, kwargs)
            try:
                result = func(*args, **kwargs)
            except BaseException as exc:
                after(call, outcome_of(exc), exc)
                raise
            after(call, "success", None)
            return result

        return wrapper

    return decorate
