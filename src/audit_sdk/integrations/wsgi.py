"""WSGI middleware: bind actor, client address, request id and trace for each request.

    from audit_sdk.integrations.wsgi import WsgiAuditMiddleware

    app.wsgi_app = WsgiAuditMiddleware(app.wsgi_app, actor=actor_of,
                                       trusted_proxies=["127.0.0.1"])   # Flask

Same fields and rules as the ASGI middleware (`audit_sdk.integrations.asgi`);
`actor(environ)` returns a string or None. The request runs in a copy of the
caller's context, response iteration and `close()` included, so a streamed
body still sees the request's actor and nothing leaks into the next request
served by the same thread.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Iterable, Iterator
from types import TracebackType
from typing import Any

from opentelemetry import context as otel_context

from audit_sdk._context import bind_context
from audit_sdk.integrations._web import (
    RequestIdPolicy,
    TrustedProxies,
    client_address,
    extract_trace_context,
)

__all__ = ["WsgiAuditMiddleware"]

Environ = dict[str, Any]
ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]
StartResponse = Callable[..., Callable[[bytes], object]]
WSGIApp = Callable[[Environ, StartResponse], Iterable[bytes]]
ActorFn = Callable[[Environ], str | None]


class _EnvironGetter:
    """OTel propagator getter over a WSGI environ (`traceparent` -> HTTP_TRACEPARENT)."""

    def get(self, carrier: Environ, key: str) -> list[str] | None:
        value = carrier.get("HTTP_" + key.upper().replace("-", "_"))
        return [value] if isinstance(value, str) else None

    def keys(self, carrier: Environ) -> list[str]:
        return [k[5:].lower().replace("_", "-") for k in carrier if k.startswith("HTTP_")]


_GETTER = _EnvironGetter()


class _InContext:
    """The app's response iterable, iterated and closed inside the request's context."""

    def __init__(self, result: Iterable[bytes], ctx: contextvars.Context) -> None:
        self._result = result
        self._ctx = ctx
        self._iterator: Iterator[bytes] | None = None

    def __iter__(self) -> _InContext:
        return self

    def __next__(self) -> bytes:
        if self._iterator is None:
            self._iterator = self._ctx.run(iter, self._result)
        return self._ctx.run(next, self._iterator)

    def close(self) -> None:
        close = getattr(self._result, "close", None)
        if close is not None:
            self._ctx.run(close)


class WsgiAuditMiddleware:
    """Binds the audit context (see the module docs) around a WSGI application."""

    def __init__(
        self,
        app: WSGIApp,
        *,
        actor: ActorFn | None = None,
        actor_type: str | None = None,
        trusted_proxies: Iterable[str] = (),
        source_type: str | None = None,
        request_id_header: str | None = "X-Request-ID",
        echo_request_id: bool = True,
    ) -> None:
        self.app = app
        self._actor = actor
        self._actor_type = actor_type
        self._trusted = TrustedProxies(trusted_proxies)
        self._source_type = source_type
        self._header = request_id_header
        self._environ_key = (
            "HTTP_" + request_id_header.upper().replace("-", "_") if request_id_header else None
        )
        self._request_ids = RequestIdPolicy(request_id_header)
        self._echo = echo_request_id and request_id_header is not None

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        ctx = contextvars.copy_context()
        return ctx.run(self._call, ctx, environ, start_response)

    def _call(
        self, ctx: contextvars.Context, environ: Environ, start_response: StartResponse
    ) -> Iterable[bytes]:
        forwarded = environ.get("HTTP_X_FORWARDED_FOR")
        address = client_address(
            environ.get("REMOTE_ADDR") or None,
            [forwarded] if isinstance(forwarded, str) else [],
            self._trusted,
        )
        given = environ.get(self._environ_key) if self._environ_key else None
        request_id = self._request_ids.resolve(given if isinstance(given, str) else None)
        actor = self._actor(environ) if self._actor is not None else None
        if actor is not None and not isinstance(actor, str):
            raise TypeError(f"the actor callable must return a string or None, got {actor!r}")
        # The context is a copy made for this request: nothing to reset afterwards.
        bind_context(
            actor=actor if actor and not actor.isspace() else None,
            actor_type=self._actor_type,
            source=address,
            source_type=self._source_type if address else None,
            request_id=request_id,
        )
        trace_ctx = extract_trace_context(environ, _GETTER)
        if trace_ctx is not None:
            otel_context.attach(trace_ctx)
        respond = self._echoing(start_response, request_id) if self._echo else start_response
        return _InContext(self.app(environ, respond), ctx)

    def _echoing(self, start_response: StartResponse, request_id: str) -> StartResponse:
        header = self._header
        assert header is not None
        lowered = header.lower()

        def start_response_with_request_id(
            status: str, headers: list[tuple[str, str]], exc_info: ExcInfo | None = None
        ) -> Callable[[bytes], object]:
            if not any(name.lower() == lowered for name, _ in headers):
                headers = [*headers, (header, request_id)]
            return start_response(status, headers, exc_info)

        return start_response_with_request_id
