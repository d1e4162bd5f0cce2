"""ASGI and WSGI middleware, served for real: the FastAPI and Flask examples, in-process."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import ModuleType
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

import httpx
import pytest
import structlog
import uvicorn

import audit_sdk
from audit_sdk.integrations import jobs
from audit_sdk.integrations._web import TrustedProxies, client_address, valid_request_id
from audit_sdk.integrations.asgi import AsgiAuditMiddleware
from audit_sdk.integrations.wsgi import WsgiAuditMiddleware
from audit_sdk.testing import capture_audit_records

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = f"00-{TRACE_ID}-00f067aa0ba902b7-01"


def load_example(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def wait_for(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


# -- client address and request id rules ---------------------------------------


@pytest.mark.parametrize(
    ("peer", "xff", "expected"),
    [
        ("198.51.100.7", ["203.0.113.1"], "198.51.100.7"),  # untrusted peer: header ignored
        ("127.0.0.1", [], "127.0.0.1"),
        ("127.0.0.1", ["203.0.113.1"], "203.0.113.1"),
        ("127.0.0.1", ["6.6.6.6, 203.0.113.1"], "203.0.113.1"),  # client-written entry ignored
        ("127.0.0.1", ["6.6.6.6, 203.0.113.1, 10.1.2.3"], "203.0.113.1"),  # via a trusted hop
        ("127.0.0.1", ["6.6.6.6", "203.0.113.1"], "203.0.113.1"),  # repeated header
        ("127.0.0.1", ["10.0.0.5, 10.0.0.6"], "10.0.0.5"),  # all trusted: left-most
        ("127.0.0.1", ["[2001:db8::1]:4711"], "2001:db8::1"),
        ("127.0.0.1", ["203.0.113.1:4711"], "203.0.113.1"),
        ("::ffff:127.0.0.1", ["203.0.113.1"], "203.0.113.1"),
        ("127.0.0.1", ["unknown"], "127.0.0.1"),  # not an address: the last one known
        ("127.0.0.1", ["<script>, 10.0.0.5"], "10.0.0.5"),
        ("127.0.0.1", ["2001:DB8::1"], "2001:db8::1"),
        ("127.0.0.1", [" , "], "127.0.0.1"),
    ],
)
def test_client_address(peer: str, xff: list[str], expected: str) -> None:
    trusted = TrustedProxies(["127.0.0.1", "10.0.0.0/8"])
    assert client_address(peer, xff, trusted) == expected


def test_no_trusted_proxies_means_the_peer() -> None:
    assert client_address("127.0.0.1", ["203.0.113.1"], TrustedProxies()) == "127.0.0.1"
    with pytest.raises(ValueError, match="not an IP"):
        TrustedProxies(["proxy.internal"])


def test_request_id_rules() -> None:
    assert valid_request_id("req-1") == "req-1"
    assert valid_request_id("a" * 129) is None
    assert valid_request_id("<script>") is None
    assert valid_request_id("two words") is None


# -- ASGI: the FastAPI example ----------------------------------------------------


@pytest.fixture
def fastapi_example() -> Iterator[ModuleType]:
    module = load_example("fastapi_app")
    module.configure_structlog()
    yield module
    structlog.reset_defaults()


async def test_fastapi_example_in_process(fastapi_example: ModuleType) -> None:
    app = fastapi_example.create_app()
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
    with capture_audit_records() as audit:
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            alice = {"Authorization": "Bearer token-alice"}
            read = await client.get(
                "/invoices/inv-1",
                headers={**alice, "X-Request-ID": "req-read-1", "X-Forwarded-For": "203.0.113.5"},
            )
            assert read.status_code == 200
            assert read.headers["x-request-id"] == "req-read-1"
            export = await client.post(
                "/invoices/inv-2/export?fmt=pdf", headers={**alice, "traceparent": TRACEPARENT}
            )
            assert export.status_code == 200
            denied = await client.delete("/invoices/inv-3", headers={"X-Request-ID": "<bad>"})
            assert denied.status_code == 403
            await asyncio.sleep(0.05)  # the background delivery task
    by_event = {r.event_name: r for r in audit.events}
    assert set(by_event) == {
        "invoice.read",
        "invoice.export",
        "invoice.export.delivered",
        "invoice.delete",
    }
    read_rec = by_event["invoice.read"]
    assert read_rec.actor == "alice" and read_rec.outcome == "success"
    assert read_rec.attributes["audit.source.id"] == "203.0.113.5"  # via trusted 127.0.0.1
    assert read_rec.attributes["audit.source.type"] == "ip"
    assert read_rec.attributes["audit.request.id"] == "req-read-1"
    exported = by_event["invoice.export"]
    delivered = by_event["invoice.export.delivered"]
    assert exported.actor == delivered.actor == "alice"  # the task kept its actor
    assert exported.trace_id == delivered.trace_id == TRACE_ID  # the caller's trace
    assert exported.details == {"format": "pdf"}
    request_id = export.json()["request_id"]
    assert exported.attributes["audit.request.id"] == request_id == export.headers["x-request-id"]
    refused = by_event["invoice.delete"]
    assert refused.actor == "anonymous" and refused.outcome == "failure"
    assert refused.attributes["error.type"] == "fastapi.exceptions.HTTPException"
    assert refused.attributes["audit.request.id"] != "<bad>"  # unsafe header replaced


@pytest.fixture
def uvicorn_server(fastapi_example: ModuleType) -> Iterator[str]:
    """The FastAPI example on a real socket on 127.0.0.1, served by uvicorn in a thread."""
    config = uvicorn.Config(
        fastapi_example.create_app(),
        host="127.0.0.1",
        port=0,
        proxy_headers=False,
        lifespan="off",
        log_level="warning",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_for(lambda: server.started)
    port = server.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


def test_fastapi_example_over_http(uvicorn_server: str) -> None:
    with capture_audit_records() as audit, httpx.Client(base_url=uvicorn_server) as client:
        carol = {"Authorization": "Bearer token-carol"}
        spoofed = {**carol, "X-Forwarded-For": "6.6.6.6, 198.51.100.23"}
        assert client.get("/invoices/inv-1", headers=spoofed).status_code == 200
        response = client.post("/invoices/inv-1/export", headers=carol)
        assert response.status_code == 200
        assert client.delete("/invoices/inv-2", headers=carol).status_code == 204
        wait_for(lambda: len(audit.by_event("invoice.export.delivered")) == 1)
    read, export, delivered = (
        audit.by_event(name)[0]
        for name in ("invoice.read", "invoice.export", "invoice.export.delivered")
    )
    assert read.attributes["audit.source.id"] == "198.51.100.23"  # 6.6.6.6 was client-written
    assert export.attributes["audit.source.id"] == "127.0.0.1"
    assert delivered.actor == "carol"
    [deleted] = audit.by_event("invoice.delete")
    assert deleted.outcome == "success" and deleted.actor == "carol"
    assert len({r.attributes["audit.request.id"] for r in (read, export, deleted)}) == 3


async def test_asgi_middleware_alone() -> None:
    """Plain ASGI 3, no framework: async actor callable, lifespan passed through."""
    seen: list[Any] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            seen.append("lifespan")
            return
        seen.append(audit_sdk.current_context())
        audit_sdk.audit_event("ping.get", action="READ")
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    async def actor(scope: dict[str, Any]) -> str | None:
        await asyncio.sleep(0)
        return "svc-a"

    wrapped = AsgiAuditMiddleware(app, actor=actor, actor_type="service")
    await wrapped({"type": "lifespan"}, None, None)  # type: ignore[arg-type]
    transport = httpx.ASGITransport(app=wrapped, client=("198.51.100.4", 1234))
    with capture_audit_records() as audit:
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            response = await client.get("/", headers={"X-Forwarded-For": "203.0.113.9"})
    assert response.headers["x-request-id"]
    [record] = audit.events
    assert (record.actor, record.attributes["audit.actor.type"]) == ("svc-a", "service")
    assert record.attributes["audit.source.id"] == "198.51.100.4"  # no trusted proxies
    assert seen[0] == "lifespan"
    assert audit_sdk.current_context() == audit_sdk.AuditContext()  # reset after the request


# -- WSGI: the Flask example --------------------------------------------------------


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        return None


@pytest.fixture
def flask_example() -> Iterator[ModuleType]:
    module = load_example("flask_app")
    handler = module.configure_logging()
    yield module
    module.log.removeHandler(handler)


@pytest.fixture
def wsgi_server(flask_example: ModuleType) -> Iterator[str]:
    """The Flask example on a real socket on 127.0.0.1, served by wsgiref in a thread."""
    server = make_server("127.0.0.1", 0, flask_example.create_app(), handler_class=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(10)
    server.server_close()


def _request(url: str, method: str = "GET", headers: dict[str, str] | None = None) -> Any:
    request = urllib.request.Request(url, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def test_flask_example_over_http(flask_example: ModuleType, wsgi_server: str) -> None:
    alice = {"Authorization": "Bearer token-alice"}
    with capture_audit_records() as audit:
        status, headers, body = _request(
            f"{wsgi_server}/reports/r-1",
            headers={**alice, "X-Request-ID": "req-42", "X-Forwarded-For": "203.0.113.77"},
        )
        assert status == 200 and json.loads(body)["title"] == "Q3 revenue"
        assert headers["X-Request-ID"] == "req-42"
        status, _, _ = _request(
            f"{wsgi_server}/reports/r-2/render",
            method="POST",
            headers={**alice, "traceparent": TRACEPARENT},
        )
        assert status == 202
        for future in list(flask_example.pending):
            future.result(timeout=10)
        status, _, _ = _request(f"{wsgi_server}/reports/r-2", method="DELETE", headers=alice)
        assert status == 403
    download, render, refused = audit.events
    assert (download.event_name, download.actor) == ("report.download", "alice")
    assert download.attributes["audit.request.id"] == "req-42"
    assert download.attributes["audit.source.id"] == "203.0.113.77"
    assert (render.event_name, render.actor) == ("report.render", "alice")  # on a pool thread
    assert render.trace_id == TRACE_ID
    assert (refused.event_name, refused.outcome) == ("report.delete", "failure")
    assert refused.attributes["error.type"] == "werkzeug.exceptions.Forbidden"


def test_flask_example_with_werkzeug_client(flask_example: ModuleType) -> None:
    client = flask_example.create_app().test_client()
    with capture_audit_records() as audit:
        response = client.get(
            "/reports/r-1",
            headers={"Authorization": "Bearer token-bob", "X-Forwarded-For": "203.0.113.8"},
            environ_base={"REMOTE_ADDR": "198.51.100.9"},  # not a trusted proxy
        )
    assert response.status_code == 200
    [record] = audit.events
    assert record.actor == "bob"
    assert record.attributes["audit.source.id"] == "198.51.100.9"
    assert record.attributes["audit.request.id"] == response.headers["X-Request-ID"]


def test_wsgi_streamed_body_sees_the_request_context() -> None:
    def app(environ: dict[str, Any], start_response: Any) -> Iterator[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        yield b"start"
        audit_sdk.audit_event("stream.chunk", action="READ")  # runs while the server iterates
        yield b"end"

    wrapped = WsgiAuditMiddleware(app, actor=lambda environ: environ.get("HTTP_X_USER"))
    with capture_audit_records() as audit:
        for user in ("u1", "u2"):
            body = wrapped(
                {"REMOTE_ADDR": "192.0.2.1", "HTTP_X_USER": user}, lambda *a: lambda b: None
            )
            assert b"".join(body) == b"startend"
            body.close()  # type: ignore[attr-defined]
        wrapped({"REMOTE_ADDR": "192.0.2.1"}, lambda *a: lambda b: None)
    assert [r.actor for r in audit.events] == ["u1", "u2"]
    assert audit_sdk.current_context() == audit_sdk.AuditContext()  # nothing leaked


# -- threads and worker jobs --------------------------------------------------------


def test_jobs_keep_their_actor() -> None:
    def job(name: str) -> None:
        audit_sdk.audit_event("job.run", action="EXECUTE", target=name)

    with capture_audit_records() as audit, ThreadPoolExecutor(2) as pool:
        queue: list[dict[str, Any]] = []
        with audit_sdk.context(actor="alice", request_id="req-1"):
            pool.submit(jobs.carry_context(job), "carried").result()
            pool.submit(job, "not-carried").result()
            queue.append({"name": "queued", "audit": jobs.capture_context()})
        message = json.loads(json.dumps(queue.pop()))  # as a job queue would carry it

        def worker() -> None:
            with jobs.restored_context(message["audit"]):
                job(message["name"])

        pool.submit(worker).result()
        with (
            pytest.raises(audit_sdk.InvalidAuditEvent),
            jobs.restored_context({"actor": "x", "role": "admin"}),
        ):
            pass
    got = {r.attributes["audit.target.id"]: r.actor for r in audit.events}
    assert got == {"carried": "alice", "not-carried": "anonymous", "queued": "alice"}
    assert audit.by_event("job.run")[2].attributes["audit.request.id"] == "req-1"
    assert isinstance(jobs.capture_context(), dict)


async def test_active_span_wins_over_traceparent(tracer: Any) -> None:
    """With OTel instrumentation outside the middleware, records take its span."""

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        audit_sdk.audit_event("ping.get", action="READ")
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    transport = httpx.ASGITransport(app=AsgiAuditMiddleware(app))
    with capture_audit_records() as audit, tracer.start_as_current_span("server") as span:
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            await client.get("/", headers={"traceparent": TRACEPARENT})
    [record] = audit.events
    context = span.get_span_context()
    assert record.trace_id == format(context.trace_id, "032x") != TRACE_ID
    assert record.span_id == format(context.span_id, "016x")
