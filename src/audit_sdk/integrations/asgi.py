"""ASGI 3 middleware: bind actor, client address, request id and trace for each request.

    from audit_sdk.integrations.asgi import AsgiAuditMiddleware

    def actor_of(scope) -> str | None:             # your authentication, from the scope
        return USERS_BY_TOKEN.get(bearer_token(scope))

    app = AsgiAuditMiddleware(app, actor=actor_of, trusted_proxies=["10.0.0.0/8"])
    # FastAPI / Starlette: app.add_middleware(AsgiAuditMiddleware, actor=actor_of, ...)

For the request's duration (`http` and `websocket` scopes), every
`audit_event()` and `@audited` call, including those in tasks the request
starts and in FastAPI's thread pool, sees:

- actor: `actor(scope)` (a string or None; may be async); `actor_type` as given;
- source: the client address, from X-Forwarded-For only when the peer is one
  of `trusted_proxies` (the right-most address that is not a trusted proxy);
- request id: the `X-Request-ID` header when it is a short safe token, else a
  new UUID; echoed in the response's `X-Request-ID` unless the app set one;
- trace: the active OTel span if instrumentation runs outside this middleware,
  else the caller's `traceparent`, so records join the caller's trace.

No framework is needed: this is plain ASGI 3.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any

from opentelemetry import context as otel_context

from audit_sdk._context import bind_context, reset_context
from audit_sdk.integrations._web import (
    RequestIdPolicy,
    TrustedProxies,
    client_address,
    extract_trace_context,
)

__all__ = ["AsgiAuditMiddleware"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
ActorFn = Callable[[Scope], "str | Awaitable[str | None] | None"]


class _HeaderGetter:
    """OTel propagator getter over a dict of lower-case header name -> values."""

    def get(self, carrier: dict[str, list[str]], key: str) -> list[str] | None:
        return carrier.get(key.lower())

    def keys(self, carrier: dict[str, list[str]]) -> list[str]:
        return list(carrier)


_GETTER = _HeaderGetter()


def _actor_text(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError(f"the actor callable must return a string or None, got {value!r}")
    return value if value and not value.isspace() else None


class AsgiAuditMiddleware:
    """Binds the audit context (see the module docs) around an ASGI application."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        actor: ActorFn | None = None,
        actor_type: str | None = None,
        trusted_proxies: Iterable[str] = (),
        source_type: str | None = None,
        request_id_header: str | None = "x-request-id",
        echo_request_id: bool = True,
    ) -> None:
        self.app = app
        self._actor = actor
        self._actor_type = actor_type
        self._trusted = TrustedProxies(trusted_proxies)
        self._source_type = source_type
        header = request_id_header.lower() if request_id_header else None
        self._request_ids = RequestIdPolicy(header)
        self._header = header.encode("latin-1") if header else None
        self._echo = echo_request_id and header is not None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("type") not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers: dict[str, list[str]] = {}
        for raw_name, raw_value in scope.get("headers") or ():
            name = raw_name.decode("latin-1").lower()
            headers.setdefault(name, []).append(raw_value.decode("latin-1"))
        client = scope.get("client")
        peer = str(client[0]) if client else None
        address = client_address(peer, headers.get("x-forwarded-for", []), self._trusted)
        given_id = headers.get(self._request_ids.header or "", [None])[0]
        request_id = self._request_ids.resolve(given_id)
        actor: object = None
        if self._actor is not None:
            actor = self._actor(scope)
            if inspect.isawaitable(actor):
                actor = await actor
        token = bind_context(
            actor=_actor_text(actor),
            actor_type=self._actor_type,
            source=address,
            source_type=self._source_type if address else None,
            request_id=request_id,
        )
        trace_ctx = extract_trace_context(headers, _GETTER)
        trace_token = otel_context.attach(trace_ctx) if trace_ctx is not None else None
        try:
            await self.app(scope, receive, self._echoing(send, request_id) if self._echo else send)
        finally:
            if trace_token is not None:
                otel_context.detach(trace_token)
            reset_context(token)

    def _echoing(self, send: Send, request_id: str) -> Send:
        header = self._header
        assert header is not None
        value = request_id.encode("latin-1")

        async def send_with_request_id(message: Message) -> None:
            if message.get("type") == "http.response.start":
                headers = list(message.get("headers") or ())
                if not any(name.lower() == header for name, _ in headers):
                    headers.append((header, value))
                    message = {**message, "headers": headers}
            await send(message)

        return send_with_request_id
